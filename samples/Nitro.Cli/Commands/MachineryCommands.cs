using System.CommandLine;
using Nitro.Kvm.Libvirt;
using Nitro.Kvm.Machinery;
using Nitro.Reactive.Machinery;
using Spectre.Console;

namespace Nitro.Cli.Commands;

/// <summary><c>nitro machines|start|stop --conf conf/&lt;module&gt;.conf</c>: the machinery from a sandbox configuration.</summary>
internal static class MachineryCommands
{
    public static IEnumerable<Command> Create(CliConsole console)
    {
        var conf = Conf();
        var machines = new Command("machines", "Lists the machines of a machinery configuration with their state") { conf };
        machines.SetAction((result, token) => WithMachineryAsync(console, result.GetValue(conf)!, token, async (machinery, ct) =>
        {
            var table = new Table().AddColumns("label", "platform", "ip", "tags", "snapshot", "state");
            foreach (var status in await machinery.ListAsync(ct))
            {
                var m = status.Machine;
                table.AddRow(Markup.Escape(m.Label), Markup.Escape(m.Platform), Markup.Escape(m.Ip), Markup.Escape(string.Join(",", m.Tags)), Markup.Escape(m.Snapshot ?? "-"), status.State.ToString());
            }

            Ansi(console).Write(table);
            return NitroCommand.Ok;
        }));

        yield return machines;
        yield return LabelCommand(console, "start", "Reverts a machine to its snapshot and starts it", (m, label, ct) => m.StartAsync(label, ct));
        yield return LabelCommand(console, "stop", "Powers a machine off", (m, label, ct) => m.StopAsync(label, ct));
    }

    private static Command LabelCommand(CliConsole console, string name, string description, Func<MachineryModule, string, CancellationToken, Task> action)
    {
        var label = new Argument<string>("label") { Description = "The machine's label" };
        var conf = Conf();
        var command = new Command(name, description) { label, conf };
        command.SetAction((result, token) => WithMachineryAsync(console, result.GetValue(conf)!, token, async (machinery, ct) =>
        {
            var which = result.GetValue(label)!;
            await action(machinery, which, ct);
            await console.Out.WriteLineAsync($"{which}: {await machinery.StatusAsync(which, ct)}");
            return NitroCommand.Ok;
        }));
        return command;
    }

    private static Option<FileInfo> Conf() => new("--conf") { Description = "The machinery configuration, e.g. conf/kvm.conf (the module is the file name)", Required = true };

    private static async Task<int> WithMachineryAsync(CliConsole console, FileInfo conf, CancellationToken cancellationToken, Func<MachineryModule, CancellationToken, Task<int>> body)
    {
        if (!conf.Exists)
        {
            await console.Error.WriteLineAsync($"nitro: configuration '{conf.FullName}' does not exist.");
            return NitroCommand.FileNotFound;
        }

        var module = Path.GetFileNameWithoutExtension(conf.Name);
        using LibvirtMachinery? machinery = module switch
        {
            "kvm" => new KvmMachinery(conf.DirectoryName!),
            "libvirt" => new LibvirtMachinery("libvirt", conf.DirectoryName!),
            _ => null,
        };
        if (machinery is null)
        {
            await console.Error.WriteLineAsync($"nitro: no machinery module '{module}' (supported: kvm, libvirt); name the file after its module, e.g. conf/kvm.conf.");
            return NitroCommand.UsageError;
        }

        try
        {
            await machinery.InitializeAsync(cancellationToken);
            return await body(machinery, cancellationToken);
        }
        catch (Exception ex) when (ex is MachineryException or LibvirtException)
        {
            await console.Error.WriteLineAsync($"nitro: {ex.Message}");
            return NitroCommand.Failure;
        }
    }

    private static IAnsiConsole Ansi(CliConsole console) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(console.Out),
        Ansi = AnsiSupport.No,
        ColorSystem = ColorSystemSupport.NoColors,
        Interactive = InteractionSupport.No,
    });
}
