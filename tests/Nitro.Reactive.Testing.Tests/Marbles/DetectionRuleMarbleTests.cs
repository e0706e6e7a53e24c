using System.Reactive.Linq;
using Microsoft.Reactive.Testing;
using Nitro.Reactive.Syscalls;
using Nitro.Reactive.Testing.Builders;
using Nitro.Reactive.Testing.Marbles;

namespace Nitro.Reactive.Testing.Tests.Marbles;

/// <summary>How a user tests a detection rule: fake calls from the builders, timing from marbles.</summary>
public sealed class DetectionRuleMarbleTests
{
    private static readonly Dictionary<char, Syscall> s_calls = new()
    {
        ['s'] = SyscallBuilder.Enter("openat").ByProcess("cat", pid: 42).WithDecoded("pathname", "/etc/shadow").Build(),
        ['p'] = SyscallBuilder.Enter("openat").ByProcess("cat", pid: 42).WithDecoded("pathname", "/etc/passwd").Build(),
        ['r'] = SyscallBuilder.Enter("read").ByProcess("cat", pid: 42).WithArgs(3).Build(),
        ['x'] = SyscallBuilder.Enter("openat").ByProcess("sshd", pid: 7).WithDecoded("pathname", "/etc/shadow").Build(),
    };

    private static IObservable<Syscall> ShadowReadByNonDaemon(IObservable<Syscall> calls) =>
        calls.Where(c => string.Equals(c.Name, "openat", StringComparison.Ordinal)
            && c.Decoded.TryGetValue("pathname", out var file) && file is "/etc/shadow"
            && !string.Equals(c.Process?.Name, "sshd", StringComparison.Ordinal));

    [Test]
    public void Rule_flags_only_shadow_opens_outside_sshd()
    {
        var scheduler = new TestScheduler();
        var calls = scheduler.Hot("-p-r-s-x-s-|", s_calls);

        scheduler.ExpectMarbles(ShadowReadByNonDaemon(calls), "-----s---s-|", s_calls);
    }

    [Test]
    public void Rule_throttled_per_burst_alerts_once()
    {
        var scheduler = new TestScheduler();
        var calls = scheduler.Hot("-ss-s------|", s_calls);

        var alerts = ShadowReadByNonDaemon(calls).Throttle(TimeSpan.FromTicks(30), scheduler);

        scheduler.ExpectMarbles(alerts, "-------s---|", s_calls);
    }
}
