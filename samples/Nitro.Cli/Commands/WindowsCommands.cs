using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Nitro.Backends.Windows.Images;
using Nitro.Backends.Windows.Profile;
using Spectre.Console;

namespace Nitro.Cli.Commands;

/// <summary>
/// <c>nitro windows …</c>: what the Windows back end reads from a guest's files —
/// <c>syscalls</c> lists the system-call stubs of an ntdll.dll / win32u.dll, <c>profile</c> the
/// offsets and symbols it takes from a Volatility 3 symbol table.
/// </summary>
internal static class WindowsCommands
{
    public static Command Create(CliConsole console)
    {
        var windows = new Command("windows", "Windows guests: system-call numbers from ntdll.dll, offsets from symbol tables");
        windows.Subcommands.Add(CreateSyscalls(console));
        windows.Subcommands.Add(CreateProfile(console));
        return windows;
    }

    private static Command CreateSyscalls(CliConsole console)
    {
        var ntdll = new Option<FileInfo>("--ntdll") { Description = "An x64 ntdll.dll or win32u.dll", Required = true };
        var format = new Option<string>("--format", "-f") { Description = "Output format", DefaultValueFactory = _ => "tsv" };
        format.AcceptOnlyFromAmong("tsv", "table");
        var command = new Command("syscalls", "Lists every system-call stub of a PE (name<TAB>0xNUMBER)") { ntdll, format };
        command.SetAction((result, _) => Task.FromResult(RunSyscalls(console, result.GetValue(ntdll)!, result.GetValue(format)!)));
        return command;
    }

    private static Command CreateProfile(CliConsole console)
    {
        var isf = new Option<FileInfo?>("--isf") { Description = "A Volatility 3 symbol table (.json or .json.xz) of a Windows x64 kernel" };
        var build = new Option<string?>("--build") { Description = "Instead of --isf: a build number (7601, 19045, 26100 …) or built-in name (7sp1-early …) for the built-in offsets" };
        var format = new Option<string>("--format", "-f") { Description = "Output format", DefaultValueFactory = _ => "json" };
        format.AcceptOnlyFromAmong("json", "table");
        var command = new Command("profile", "Prints the offsets and symbols the Windows back end takes from a symbol table") { isf, build, format };
        command.Validators.Add(result =>
        {
            if ((result.GetValue(isf) is null) == (result.GetValue(build) is null))
            {
                result.AddError("Give exactly one of --isf FILE and --build NUMBER.");
            }
        });
        command.SetAction((result, _) => Task.FromResult(RunProfile(console, result.GetValue(isf), result.GetValue(build), result.GetValue(format)!)));
        return command;
    }

    private static int RunSyscalls(CliConsole console, FileInfo file, string format)
    {
        if (!file.Exists)
        {
            console.Error.WriteLine($"nitro: {file.FullName} does not exist.");
            return NitroCommand.FileNotFound;
        }

        IReadOnlyList<SyscallStub> stubs;
        try
        {
            stubs = SyscallStubReader.Read(file.FullName);
        }
        catch (PeFormatException ex)
        {
            console.Error.WriteLine($"nitro: {file.Name}: {ex.Message}");
            return NitroCommand.Failure;
        }

        if (stubs.Count == 0)
        {
            console.Error.WriteLine($"nitro: {file.Name} exports no system-call stubs (mov r10, rcx; mov eax, N): is it ntdll.dll or win32u.dll?");
            return NitroCommand.Failure;
        }

        if (string.Equals(format, "tsv", StringComparison.Ordinal))
        {
            foreach (var stub in stubs)
            {
                console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{stub.Name}\t0x{stub.Number:x4}"));
            }

            return NitroCommand.Ok;
        }

        var table = new Table().AddColumn("name").AddColumn(new TableColumn("number").RightAligned()).AddColumn("table").AddColumn(new TableColumn("rva").RightAligned());
        foreach (var stub in stubs)
        {
            table.AddRow(
                Markup.Escape(stub.Name),
                string.Create(CultureInfo.InvariantCulture, $"0x{stub.Number:x4}"),
                stub.Table == 1 ? "win32k" : "nt",
                string.Create(CultureInfo.InvariantCulture, $"0x{stub.Rva:x}"));
        }

        Plain(console).Write(table);
        return NitroCommand.Ok;
    }

    private static int RunProfile(CliConsole console, FileInfo? file, string? build, string format)
    {
        if (file is { Exists: false })
        {
            console.Error.WriteLine($"nitro: {file.FullName} does not exist.");
            return NitroCommand.FileNotFound;
        }

        WindowsKernelProfile profile;
        try
        {
            profile = file is not null
                ? WindowsKernelProfile.Load(file.FullName)
                : int.TryParse(build, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                    ? WindowsKernelProfile.ForBuild(number)
                    : WindowsKernelProfile.BuiltIn(build!);
        }
        catch (WindowsProfileException ex)
        {
            console.Error.WriteLine($"nitro: {ex.Message}");
            return NitroCommand.Failure;
        }

        var values = profile.Describe();
        if (string.Equals(format, "json", StringComparison.Ordinal))
        {
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false }))
            {
                writer.WriteStartObject();
                foreach (var (key, value) in values)
                {
                    writer.WriteNumber(key, value);
                }

                writer.WriteEndObject();
            }

            console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
            return NitroCommand.Ok;
        }

        var table = new Table().AddColumn(Markup.Escape(profile.Name)).AddColumn(new TableColumn("value").RightAligned());
        foreach (var (key, value) in values)
        {
            table.AddRow(Markup.Escape(key), string.Create(CultureInfo.InvariantCulture, $"0x{value:x}"));
        }

        Plain(console).Write(table);
        return NitroCommand.Ok;
    }

    private static IAnsiConsole Plain(CliConsole console) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(console.Out),
        Ansi = AnsiSupport.No,
        ColorSystem = ColorSystemSupport.NoColors,
        Interactive = InteractionSupport.No,
    });
}
