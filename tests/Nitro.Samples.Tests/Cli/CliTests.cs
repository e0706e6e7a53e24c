using System.Text.Json;
using Nitro.Cli;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;
using Nitro.Reactive.Testing.Builders;

namespace Nitro.Samples.Tests.Cli;

[NonParallelizable]
public sealed class CliTests
{
    private string _directory = null!;
    private string _trace = null!;

    [SetUp]
    public void WriteTrace()
    {
        _directory = Directory.CreateTempSubdirectory("nitro-cli-").FullName;
        _trace = Path.Combine(_directory, "demo.nitrotrace");
        using var writer = TraceWriter.Create(_trace, new TraceWriterOptions { Os = "linux", Kernel = "6.1.0-test", Vcpus = 2, Source = "cli-test" });
        foreach (var call in Calls())
        {
            writer.WriteSyscall(call);
        }
    }

    [TearDown]
    public void RemoveTrace() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task Replay_prints_a_table_of_every_call()
    {
        var (code, output, error) = await RunAsync("replay", _trace);

        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1 + Calls().Count));
        Assert.That(lines[0], Does.StartWith("time"));
        Assert.That(output, Does.Contain("filename=\"/etc/shadow\""));
        Assert.That(output, Does.Contain("= 3"));
    }

    [Test]
    public async Task Replay_filters_by_process_and_syscall_and_writes_json_lines()
    {
        var (code, output, _) = await RunAsync("replay", _trace, "--process", "cat", "--syscall", "openat,read", "--format", "jsonl");

        Assert.That(code, Is.EqualTo(NitroCommand.Ok));
        var records = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(records.Select(r => r.GetProperty("name").GetString()), Is.EqualTo(new[] { "openat", "openat", "read" }));
        Assert.That(records.Select(r => r.GetProperty("process").GetProperty("name").GetString()), Is.All.EqualTo("cat"));
        Assert.That(records[0].GetProperty("decoded").GetProperty("filename").GetString(), Is.EqualTo("/etc/shadow"));
        Assert.That(records[1].GetProperty("return").GetInt64(), Is.EqualTo(3));
        Assert.That(records[0].GetProperty("event").GetProperty("type").GetString(), Is.EqualTo("syscall"));
    }

    [Test]
    public async Task Replay_filters_by_pid()
    {
        var (code, output, _) = await RunAsync("replay", _trace, "--process", "7", "--format", "jsonl");
        Assert.That(code, Is.EqualTo(NitroCommand.Ok));
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2));
    }

    [Test]
    public async Task Stats_summarises_the_trace()
    {
        var (code, output, error) = await RunAsync("stats", _trace);

        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        Assert.That(output, Does.Contain("6.1.0-test"));
        Assert.That(output, Does.Contain("cat [42]"));
        Assert.That(output, Does.Match(@"openat\s*│\s*2"));
        Assert.That(output, Does.Match(@"system calls\s*│\s*6"));
    }

    [Test]
    public async Task Missing_file_is_exit_code_2_with_a_message()
    {
        var (code, _, error) = await RunAsync("replay", Path.Combine(_directory, "nope.nitrotrace"));
        Assert.That(code, Is.EqualTo(NitroCommand.FileNotFound));
        Assert.That(error, Does.Contain("nope.nitrotrace").And.Contain("does not exist"));
    }

    [Test]
    public async Task Damaged_trace_prints_what_came_before_and_exits_3()
    {
        var bytes = await File.ReadAllBytesAsync(_trace);
        var damaged = Path.Combine(_directory, "damaged.nitrotrace");
        await File.WriteAllBytesAsync(damaged, bytes[..(bytes.Length - 20)]);

        var (code, _, error) = await RunAsync("replay", damaged);
        Assert.That(code, Is.EqualTo(NitroCommand.DamagedTrace));
        Assert.That(error, Does.Contain("offset"));

        (code, _, error) = await RunAsync("stats", damaged);
        Assert.That(code, Is.EqualTo(NitroCommand.DamagedTrace));
        Assert.That(error, Does.Contain("before the damage"));
    }

    [Test]
    public async Task Not_a_trace_is_exit_code_3()
    {
        var text = Path.Combine(_directory, "notes.txt");
        await File.WriteAllTextAsync(text, "hello, this is not a trace");
        var (code, _, error) = await RunAsync("stats", text);
        Assert.That(code, Is.EqualTo(NitroCommand.DamagedTrace));
        Assert.That(error, Does.Contain("notes.txt"));
    }

    [Test]
    public async Task Unknown_format_is_a_usage_error()
    {
        var (code, _, error) = await RunAsync("replay", _trace, "--format", "xml");
        Assert.That(code, Is.Not.EqualTo(NitroCommand.Ok));
        Assert.That(error, Does.Contain("xml"));
    }

    private static List<Syscall> Calls() =>
    [
        SyscallBuilder.Enter("openat").ByProcess("cat", 42).WithThreadId(42).AtTime(1_000).WithArgs(0xffffff9c, 0x1000, 0).WithDecoded("filename", "/etc/shadow").Build(),
        SyscallBuilder.Exit("openat", 3).ByProcess("cat", 42).WithThreadId(42).AtTime(9_000).Build(),
        SyscallBuilder.Enter("read").ByProcess("cat", 42).WithThreadId(42).AtTime(10_000).WithArgs(3, 0x2000, 4096).Build(),
        SyscallBuilder.Enter("write").ByProcess("cat", 42).OnVcpu(1).WithThreadId(42).AtTime(20_000).Build(),
        SyscallBuilder.Enter("socket").ByProcess("sh", 7).WithThreadId(7).AtTime(30_000).WithArgs(2, 1, 0).Build(),
        SyscallBuilder.Exit("socket", 4).ByProcess("sh", 7).WithThreadId(7).AtTime(31_000).Build(),
    ];

    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await NitroCommand.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
