namespace Nitro.Kvm.Qemu;

/// <summary>Tells whether hardware virtualization is usable here: <c>/dev/kvm</c> alone is not enough.</summary>
public static class KvmProbe
{
    /// <summary>Checks that <c>/dev/kvm</c> can be opened and the CPU advertises VMX or SVM.</summary>
    /// <returns><see langword="true"/> when QEMU can use <c>-accel kvm</c>.</returns>
    public static bool IsUsable()
    {
        try
        {
            using (File.Open("/dev/kvm", FileMode.Open, FileAccess.ReadWrite))
            {
            }

            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("flags", StringComparison.Ordinal))
                {
                    var flags = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return flags.Contains("vmx", StringComparer.Ordinal) || flags.Contains("svm", StringComparer.Ordinal);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return false;
    }
}
