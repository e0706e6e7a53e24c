using System.CommandLine;

namespace Nitro.Cli.Live;

/// <summary>The options every live command shares (trace, record, demo): the guest to boot, the calls to trap, the deadline.</summary>
internal sealed class LiveCommandOptions
{
    public Option<FileInfo> Kernel { get; } = new("--kernel") { Description = "Guest kernel image (bzImage); or use --machine with --conf" };

    public Option<string?> Machine { get; } = new("--machine") { Description = "Start this machine of a QEMU machinery configuration (with --conf), trace it, stop it" };

    public Option<FileInfo?> Conf { get; } = new("--conf") { Description = "The machinery configuration for --machine, e.g. conf/qemu.conf" };

    public Option<FileInfo?> Initrd { get; } = new("--initrd") { Description = "Guest initramfs" };

    public Option<string?> Append { get; } = new("--append") { Description = "Extra kernel command line" };

    public Option<string[]> Syscall { get; } = new("--syscall", "-s")
    {
        Description = "Trap only these system calls (comma-separated); unrequested calls do not stop the guest",
        AllowMultipleArgumentsPerToken = true,
    };

    public Option<int> Timeout { get; } = new("--timeout") { Description = "Stop after this many seconds", DefaultValueFactory = _ => 300 };

    public Option<int> BootTimeout { get; } = CreateBootTimeoutOption();

    public Option<int> Vcpus { get; } = new("--vcpus") { Description = "Number of vCPUs", DefaultValueFactory = _ => 1 };

    public Option<bool> NoWait { get; } = new("--no-wait") { Description = "The guest has no nitro.wait support: attach as early as the listener allows (the plugin holds its first user-mode instruction)" };

    public Option<string> Listener { get; } = CreateListenerOption();

    public Option<string> Os { get; } = CreateOsOption();

    public Option<DirectoryInfo?> Symbols { get; } = new("--symbols")
    {
        Description = "Windows: a Volatility 3 symbols directory (windows/ntkrnlmp.pdb/GUID-AGE.json.xz) for the guest's kernel",
    };

    public Option<bool> Stream { get; } = new("--stream") { Description = "Plugin only: the vCPU does not wait for observers (snapshots in a ring; arguments cannot be changed)" };

    private static Option<string> CreateListenerOption()
    {
        var option = new Option<string>("--listener")
        {
            Description = "How to trap: the QEMU trap plugin (fast; the default when gcc can build it) or QEMU's gdbstub (slow under TCG)",
            DefaultValueFactory = _ => "auto",
        };
        option.AcceptOnlyFromAmong("auto", "plugin", "gdbstub");
        return option;
    }

    private static Option<int> CreateBootTimeoutOption()
    {
        var option = new Option<int>("--boot-timeout")
        {
            Description = "Give up after this many seconds when the guest's kernel is not yet traceable (booting, or not the system --os names)",
            DefaultValueFactory = _ => 120,
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() <= 0)
            {
                result.AddError("--boot-timeout must be a positive number of seconds.");
            }
        });
        return option;
    }

    private static Option<string> CreateOsOption()
    {
        var option = new Option<string>("--os")
        {
            Description = "The guest's system: auto is the machine's platform with --machine, else linux",
            DefaultValueFactory = _ => "auto",
        };
        option.AcceptOnlyFromAmong("auto", "linux", "windows");
        return option;
    }

    /// <summary>Adds the options to <paramref name="command"/>; <paramref name="withGuest"/> false leaves out the guest options (the demo finds its own guest).</summary>
    public void AddTo(Command command, bool withGuest = true)
    {
        if (withGuest)
        {
            command.Options.Add(Kernel);
            command.Options.Add(Machine);
            command.Options.Add(Conf);
            command.Validators.Add(result =>
            {
                var machine = result.GetValue(Machine);
                if (result.GetValue(Kernel) is null && machine is null)
                {
                    result.AddError("Give the guest: --kernel PATH [--initrd PATH], or --machine LABEL --conf conf/qemu.conf.");
                }
                else if (machine is not null && result.GetValue(Conf) is null)
                {
                    result.AddError("--machine needs --conf (the machinery configuration that defines it).");
                }
                else if (machine is null && result.GetValue(Os) is "windows")
                {
                    result.AddError("A Windows guest boots from its disk image, not from --kernel: give --machine LABEL --conf FILE (a machinery configuration with platform = windows).");
                }

                if (result.GetValue(Symbols) is { Exists: false } symbols)
                {
                    result.AddError($"The symbols directory '{symbols.FullName}' of --symbols does not exist.");
                }
            });
            command.Options.Add(Initrd);
            command.Options.Add(Append);
            command.Options.Add(Syscall);
            command.Options.Add(Os);
            command.Options.Add(Symbols);
        }

        command.Options.Add(Timeout);
        command.Options.Add(BootTimeout);
        command.Options.Add(Vcpus);
        command.Options.Add(Listener);
        command.Options.Add(Stream);
        if (withGuest)
        {
            command.Options.Add(NoWait);
        }
    }

    /// <summary>The listener --listener asks for.</summary>
    public Kvm.Tracing.ListenerChoice ListenerOf(ParseResult result) => result.GetValue(Listener) switch
    {
        "plugin" => Kvm.Tracing.ListenerChoice.Plugin,
        "gdbstub" => Kvm.Tracing.ListenerChoice.GdbStub,
        _ => Kvm.Tracing.ListenerChoice.Auto,
    };

    /// <summary>The plugin's delivery mode --stream asks for.</summary>
    public Kvm.Plugin.PluginDeliveryMode PluginModeOf(ParseResult result) =>
        result.GetValue(Stream) ? Kvm.Plugin.PluginDeliveryMode.Streaming : Kvm.Plugin.PluginDeliveryMode.Synchronous;

    /// <summary>The request the parsed options describe.</summary>
    public LiveRequest ToRequest(ParseResult result) => new(
        new LiveSessionOptions
        {
            Kernel = result.GetValue(Kernel)?.FullName ?? string.Empty,
            MachineLabel = result.GetValue(Machine),
            MachineryConfiguration = result.GetValue(Conf)?.FullName,
            Initrd = result.GetValue(Initrd)?.FullName,
            Append = result.GetValue(Append),
            Vcpus = result.GetValue(Vcpus),
            BootTimeout = TimeSpan.FromSeconds(result.GetValue(BootTimeout)),
            WaitMarker = result.GetValue(NoWait) ? null : "NITRO-WAITING",
            Listener = ListenerOf(result),
            Plugin = new Kvm.Plugin.PluginListenerOptions { Mode = PluginModeOf(result) },
            Os = result.GetValue(Os) switch
            {
                "linux" => GuestOs.Linux,
                "windows" => GuestOs.Windows,
                _ => GuestOs.Auto,
            },
            WindowsSymbols = result.GetValue(Symbols)?.FullName,
        },
        Commands.CallFilters.SplitNames(result.GetValue(Syscall)),
        TimeSpan.FromSeconds(result.GetValue(Timeout)));

}

/// <summary>What a live command was asked to boot and trap, and for how long at most.</summary>
internal sealed record LiveRequest(LiveSessionOptions Session, string[] Syscalls, TimeSpan Timeout);
