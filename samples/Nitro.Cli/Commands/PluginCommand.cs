using System.CommandLine;
using System.Xml.Linq;
using Nitro.Kvm.Plugin;
using Nitro.Kvm.Targets;

namespace Nitro.Cli.Commands;

/// <summary>
/// <c>nitro plugin [--install DIR] [--ctl PATH]</c>: builds the QEMU trap plugin (or finds it in its
/// cache) and prints its path; <c>--install</c> copies it where another user's QEMU (a libvirt
/// domain's) can load it; <c>--ctl</c> prints the <c>&lt;qemu:commandline&gt;</c> a libvirt domain
/// needs to load it with that control file.
/// </summary>
internal static class PluginCommand
{
    public static Command Create(CliConsole console)
    {
        var install = new Option<DirectoryInfo?>("--install") { Description = "Copy the built plugin into this directory (readable by QEMU's user) and print that path" };
        var control = new Option<string?>("--ctl") { Description = "Print the libvirt <qemu:commandline> that loads the plugin with this control file" };
        var command = new Command("plugin", "Builds the QEMU trap plugin and prints its path (or a libvirt domain's <qemu:commandline> for it)") { install, control };
        command.SetAction((result, _) => Task.FromResult(Run(console, result.GetValue(install), result.GetValue(control))));
        return command;
    }

    private static int Run(CliConsole console, DirectoryInfo? install, string? control)
    {
        if (!TrapPlugin.TryEnsureBuilt(out var path, out var reason))
        {
            console.Error.WriteLine($"nitro: the trap plugin cannot be built: {reason}");
            return NitroCommand.Failure;
        }

        if (install is not null)
        {
            try
            {
                install.Create();
                var installed = Path.Combine(install.FullName, TrapPlugin.FileName);
                File.Copy(path, installed, overwrite: true);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(installed, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                }

                path = installed;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                console.Error.WriteLine($"nitro: cannot install the trap plugin into {install.FullName}: {ex.Message}");
                return NitroCommand.Failure;
            }
        }

        if (control is null)
        {
            console.Out.WriteLine(path);
            return NitroCommand.Ok;
        }

        if (control.Contains(',', StringComparison.Ordinal) || path.Contains(',', StringComparison.Ordinal))
        {
            console.Error.WriteLine($"nitro: QEMU's -plugin option cannot take a path with a comma ({path}, {control}).");
            return NitroCommand.UsageError;
        }

        XNamespace qemu = TraceableDomainDescription.QemuNamespace;
        var xml = new XElement(
            qemu + "commandline",
            new XAttribute(XNamespace.Xmlns + "qemu", qemu.NamespaceName),
            new XElement(qemu + "arg", new XAttribute("value", "-plugin")),
            new XElement(qemu + "arg", new XAttribute("value", $"{path},ctl={control}")));
        console.Out.WriteLine(xml.ToString());
        return NitroCommand.Ok;
    }
}
