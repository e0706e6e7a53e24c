using System.Reactive.Linq;
using System.Reactive.Subjects;
using Nitro.Reactive.Events;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Tests.Linq;

public sealed class WhereOperatorsTests
{
    private static readonly Syscall[] s_calls =
    [
        Fakes.Call("openat", process: "cat", pid: 10, arg0: 0xffffff9c, decoded: new Dictionary<string, object?> { ["filename"] = "/etc/shadow" }),
        Fakes.Call("read", process: "cat", pid: 10, arg0: 3),
        Fakes.Call("openat", process: "sh", pid: 11, arg0: 5, decoded: new Dictionary<string, object?> { ["filename"] = "/tmp/x" }),
        Fakes.Call("openat", SyscallDirection.Exit, process: "cat", pid: 10, rax: 3),
        Fakes.Call("write", process: "sh", pid: 11, arg0: 1),
    ];

    [Test]
    public async Task WhereProcess_by_name_drops_events_of_other_processes()
    {
        var result = await s_calls.ToObservable().WhereProcess("sh").ToList();
        Assert.That(result.Select(s => s.Name), Is.EqualTo(new[] { "openat", "write" }));
    }

    [Test]
    public async Task WhereProcess_by_pid_keeps_only_that_pid()
    {
        var result = await s_calls.ToObservable().WhereProcess(10).ToList();
        Assert.That(result, Has.Count.EqualTo(3).And.All.Matches<Syscall>(s => s.Process!.Pid == 10));
    }

    [Test]
    public async Task WhereProcess_drops_calls_of_unknown_processes()
    {
        var e = Fakes.Event();
        var anonymous = new Syscall(e, 0, "read", "read", null, new ArgumentMap(e, CallingConvention.LinuxX64, null));
        var result = await new[] { anonymous }.ToObservable().WhereProcess(p => true).ToList();
        Assert.That(result, Is.Empty);
    }

    [Test]
    public void WhereProcess_predicate_exception_goes_to_OnError()
    {
        var boom = new InvalidOperationException("rule bug");
        Exception? seen = null;
        s_calls.ToObservable().WhereProcess(_ => throw boom).Subscribe(_ => { }, ex => seen = ex);
        Assert.That(seen, Is.SameAs(boom));
    }

    [Test]
    public async Task WhereSyscall_keeps_any_of_the_names()
    {
        var result = await s_calls.ToObservable().WhereSyscall("read", "write").ToList();
        Assert.That(result.Select(s => s.Name), Is.EqualTo(new[] { "read", "write" }));
    }

    [Test]
    public async Task WhereSyscall_with_one_name_is_ordinal()
    {
        var result = await s_calls.ToObservable().WhereSyscall("OPENAT").ToList();
        Assert.That(result, Is.Empty);
    }

    [Test]
    public void WhereSyscall_without_names_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => Observable.Empty<Syscall>().WhereSyscall());
    }

    [Test]
    public async Task WhereArgument_tests_the_raw_register_value()
    {
        var result = await s_calls.ToObservable().WhereArgument(0, v => v == 0xffffff9c).ToList();
        Assert.That(result, Has.Count.EqualTo(1));
        Assert.That(result[0].Decoded["filename"], Is.EqualTo("/etc/shadow"));
    }

    [Test]
    public async Task WhereArgument_by_decoded_name_skips_calls_without_it()
    {
        var result = await s_calls.ToObservable()
            .WhereArgument("filename", v => v is string s && s.StartsWith("/etc/", StringComparison.Ordinal))
            .ToList();
        Assert.That(result.Select(s => s.Process!.Name), Is.EqualTo(new[] { "cat" }));
    }

    [Test]
    public async Task WhereDirection_keeps_exits_only()
    {
        var result = await s_calls.ToObservable().WhereDirection(SyscallDirection.Exit).ToList();
        Assert.That(result, Has.Count.EqualTo(1));
        Assert.That(result[0].ReturnValue, Is.EqualTo(3));
    }

    [Test]
    public async Task WhereDirection_on_raw_events()
    {
        var events = new[] { Fakes.Event(SyscallDirection.Enter), Fakes.Event(SyscallDirection.Exit), Fakes.Event(SyscallDirection.Exit) };
        var count = await events.ToObservable().WhereDirection(SyscallDirection.Exit).Count();
        Assert.That(count, Is.EqualTo(2));
    }

    [Test]
    public void Operators_forward_errors_and_completion()
    {
        var subject = new Subject<Syscall>();
        var notifications = new List<string>();
        using var _ = subject.WhereSyscall("read").WhereProcess("cat").WhereDirection(SyscallDirection.Enter)
            .Subscribe(s => notifications.Add(s.Name), ex => notifications.Add("error:" + ex.Message), () => notifications.Add("done"));
        subject.OnNext(Fakes.Call("read"));
        subject.OnError(new IOException("lost"));
        Assert.That(notifications, Is.EqualTo(new[] { "read", "error:lost" }));
    }
}
