using System.Globalization;

namespace Nitro.Kvm.Nitro;

/// <summary>Finds the QEMU process of a virtual machine, which Nitro's ATTACH_VM needs.</summary>
public static class QemuProcessFinder
{
    /// <summary>Reads the pid libvirt wrote for a domain (<c>/run/libvirt/qemu/&lt;name&gt;.pid</c>).</summary>
    /// <param name="domainName">The libvirt domain name.</param>
    /// <param name="runDirectory">libvirt's QEMU run directory.</param>
    /// <returns>The pid, or <see langword="null"/> when the file is missing or holds no number.</returns>
    public static int? FromLibvirtPidFile(string domainName, string runDirectory = "/run/libvirt/qemu")
    {
        ArgumentException.ThrowIfNullOrEmpty(domainName);
        var path = Path.Combine(runDirectory, domainName + ".pid");
        if (!File.Exists(path))
        {
            return null;
        }

        return int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    /// <summary>
    /// Scans the process list for a QEMU started with <c>-name &lt;name&gt;</c> or
    /// <c>-name guest=&lt;name&gt;,…</c>.
    /// </summary>
    /// <param name="guestName">The VM name.</param>
    /// <param name="procDirectory">The proc file system.</param>
    /// <returns>The pid, or <see langword="null"/> when no such process runs.</returns>
    public static int? FromProcessList(string guestName, string procDirectory = "/proc")
    {
        ArgumentException.ThrowIfNullOrEmpty(guestName);
        foreach (var directory in Directory.EnumerateDirectories(procDirectory))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string[] arguments;
            try
            {
                arguments = File.ReadAllText(Path.Combine(directory, "cmdline")).Split('\0');
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue; // the process ended meanwhile
            }

            if (arguments.Length == 0 || !Path.GetFileName(arguments[0]).StartsWith("qemu", StringComparison.Ordinal))
            {
                continue;
            }

            for (var i = 0; i + 1 < arguments.Length; i++)
            {
                if (string.Equals(arguments[i], "-name", StringComparison.Ordinal) && NameMatches(arguments[i + 1], guestName))
                {
                    return pid;
                }
            }
        }

        return null;
    }

    private static bool NameMatches(string value, string name)
    {
        foreach (var part in value.Split(','))
        {
            if (string.Equals(part, name, StringComparison.Ordinal) || string.Equals(part, "guest=" + name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
