using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Nitro.Kvm.Plugin;

/// <summary>
/// The QEMU TCG plugin behind <see cref="PluginListener"/>. Its C source ships inside this assembly;
/// <see cref="EnsureBuilt"/> compiles it with the machine's gcc into a cache directory, once per
/// source version, so no binary is ever shipped or committed.
/// </summary>
public static class TrapPlugin
{
    /// <summary>The file name of the built plugin.</summary>
    public const string FileName = "libnitro-trap.so";

    private const string ResourcePrefix = "Nitro.Kvm.Plugin.native.";
    private static readonly string[] s_sources = ["nitro_trap.c", "nitro_trap_protocol.h", "qemu_plugin_api.h"];
    private static readonly Lock s_gate = new();

    /// <summary>Gets the default cache: <c>$NITRO_PLUGIN_CACHE</c>, else <c>$XDG_CACHE_HOME/nitro-reactive/plugin</c> (<c>~/.cache</c>).</summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("NITRO_PLUGIN_CACHE") is { Length: > 0 } explicitDirectory)
            {
                return explicitDirectory;
            }

            var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(root))
            {
                root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            }

            return Path.Combine(root, "nitro-reactive", "plugin");
        }
    }

    /// <summary>Reads one of the plugin's source files (for diagnostics and the protocol layout test).</summary>
    /// <param name="name">The file name, e.g. <c>nitro_trap_protocol.h</c>.</param>
    /// <returns>The source text.</returns>
    /// <exception cref="ArgumentException">No such source file.</exception>
    public static string ReadSource(string name)
    {
        using var stream = typeof(TrapPlugin).Assembly.GetManifestResourceStream(ResourcePrefix + name)
            ?? throw new ArgumentException($"The trap plugin has no source file '{name}'.", nameof(name));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>Builds the plugin into the cache unless that version is there already.</summary>
    /// <param name="cacheDirectory">The cache; <see langword="null"/> for <see cref="DefaultCacheDirectory"/>.</param>
    /// <returns>The path of the shared object to give QEMU's <c>-plugin</c>.</returns>
    /// <exception cref="TrapPluginException">gcc is missing or failed; the message has gcc's output and the command to install it.</exception>
    public static string EnsureBuilt(string? cacheDirectory = null)
    {
        cacheDirectory ??= DefaultCacheDirectory;
        var sources = s_sources.ToDictionary(name => name, ReadSource, StringComparer.Ordinal);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Concat(sources.Values))))[..16];
        var directory = Path.Combine(cacheDirectory, hash);
        var output = Path.Combine(directory, FileName);
        lock (s_gate)
        {
            if (File.Exists(output))
            {
                return output;
            }

            Directory.CreateDirectory(directory);
            var work = Directory.CreateTempSubdirectory("nitro-trap-build-").FullName;
            try
            {
                foreach (var (name, text) in sources)
                {
                    File.WriteAllText(Path.Combine(work, name), text);
                }

                var temporary = Path.Combine(directory, $"{FileName}.{Environment.ProcessId}.tmp");
                RunGcc(["-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden", "-o", temporary, Path.Combine(work, "nitro_trap.c"), "-lpthread"]);
                File.Move(temporary, output, overwrite: true);
                return output;
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    /// <summary>Builds the plugin if it can be built here.</summary>
    /// <param name="path">Receives the plugin's path.</param>
    /// <param name="reason">Receives why it cannot be built.</param>
    /// <param name="cacheDirectory">The cache; <see langword="null"/> for <see cref="DefaultCacheDirectory"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="path"/> is a built plugin.</returns>
    public static bool TryEnsureBuilt(out string path, out string reason, string? cacheDirectory = null)
    {
        try
        {
            path = EnsureBuilt(cacheDirectory);
            reason = string.Empty;
            return true;
        }
        catch (Exception ex) when (ex is TrapPluginException or IOException or UnauthorizedAccessException)
        {
            path = string.Empty;
            reason = ex.Message;
            return false;
        }
    }

    private static void RunGcc(IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo("gcc") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new TrapPluginException("gcc did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new TrapPluginException("The QEMU trap plugin is built with gcc, which is not installed: apt-get install gcc (or trace with the gdbstub listener).", ex);
        }

        using (process)
        {
            var error = process.StandardError.ReadToEndAsync();
            var standardOutput = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                throw new TrapPluginException("gcc did not finish building the QEMU trap plugin within 2 minutes.");
            }

            if (process.ExitCode != 0)
            {
                throw new TrapPluginException($"gcc could not build the QEMU trap plugin (exit {process.ExitCode}): {error.Result}{standardOutput.Result}".TrimEnd());
            }
        }
    }
}
