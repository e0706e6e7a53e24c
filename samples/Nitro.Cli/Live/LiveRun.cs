using System.Diagnostics;
using System.Globalization;
using Nitro.Backends.Linux.Profile;
using Nitro.Backends.Windows.Profile;
using Nitro.Kvm.GdbStub;
using Nitro.Kvm.Listening;
using Nitro.Kvm.Plugin;
using Nitro.Kvm.Qemu;
using Nitro.Kvm.Tracing;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Live;

/// <summary>What a live command does with the calls; <see cref="LiveRun"/> does the rest.</summary>
internal abstract class LiveHandler
{
    /// <summary>Shapes the stream once the session is up (filters, recording): the profile is known here.</summary>
    public virtual IObservable<Syscall> Shape(LiveSession session, IObservable<Syscall> calls) => calls;

    /// <summary>One call, on the listener thread while the vCPU is paused: keep it cheap.</summary>
    public abstract void OnCall(Syscall call);

    /// <summary>Runs beside the trace (a live view) until <paramref name="stop"/> is cancelled.</summary>
    public virtual Task WhileTracingAsync(LiveSession session, CancellationToken stop) => Task.CompletedTask;

    /// <summary>After the listener has detached: flush sinks, close files.</summary>
    public virtual ValueTask CompleteAsync(LiveOutcome outcome) => ValueTask.CompletedTask;
}

/// <summary>How a live run ended.</summary>
internal enum LiveOutcome
{
    /// <summary>The guest powered off (the stream completed).</summary>
    Completed,

    /// <summary>The --timeout passed with the guest still running.</summary>
    TimedOut,

    /// <summary>Ctrl+C (the cancellation token).</summary>
    Interrupted,
}

/// <summary>
/// The part every live command shares: boot the guest, subscribe, wait for the listener to attach,
/// release the workload, wait for power-off, the timeout or Ctrl+C, detach, and print the statistics line.
/// </summary>
internal static class LiveRun
{
    public static async Task<int> RunAsync(CliConsole console, LiveRequest request, LiveHandler handler, CancellationToken cancellationToken)
    {
        if (request.Session.MachineryConfiguration is { } conf)
        {
            if (!File.Exists(conf))
            {
                await console.Error.WriteLineAsync($"nitro: machinery configuration '{conf}' does not exist.");
                return NitroCommand.FileNotFound;
            }
        }
        else if (!File.Exists(request.Session.Kernel))
        {
            await console.Error.WriteLineAsync($"nitro: kernel image '{request.Session.Kernel}' does not exist (guest/build.sh builds the bundled one).");
            return NitroCommand.FileNotFound;
        }

        if (request.Session.Initrd is { } initrd && !File.Exists(initrd))
        {
            await console.Error.WriteLineAsync($"nitro: initramfs '{initrd}' does not exist (guest/build.sh builds the bundled one).");
            return NitroCommand.FileNotFound;
        }

        LiveSession session;
        try
        {
            session = await LiveSession.StartAsync(request.Session, cancellationToken);
        }
        catch (Exception ex) when (ex is QemuException or ProfileException or WindowsProfileException or TimeoutException or TraceSessionException
            or GdbTargetLostException or GdbStubException or TrapPluginException or Nitro.Reactive.Machinery.MachineryException)
        {
            await console.Error.WriteLineAsync($"nitro: could not start tracing: {ex.Message}");
            return NitroCommand.Failure;
        }
        catch (ArgumentException ex)
        {
            await console.Error.WriteLineAsync($"nitro: {ex.Message}");
            return NitroCommand.UsageError;
        }

        await using (session)
        {
            if (session.Trace.ListenerFallbackReason is { } fallback)
            {
                await console.Error.WriteLineAsync($"nitro: tracing through QEMU's gdbstub (slow under TCG) because the trap plugin cannot be used: {fallback}");
            }

            if (session.Linux?.Ia32Error is { } ia32)
            {
                await console.Error.WriteLineAsync($"nitro: 32-bit calls are not (all) traced: {ia32}");
            }

            return await StreamAsync(console, session, request, handler, cancellationToken);
        }
    }

    private static async Task<int> StreamAsync(CliConsole console, LiveSession session, LiveRequest request, LiveHandler handler, CancellationToken cancellationToken)
    {
        var (calls, code) = await ShapeAsync(console, session, request, handler);
        if (calls is null)
        {
            return code;
        }

        var observer = new CountingObserver(handler);
        var clock = Stopwatch.StartNew();
        LiveOutcome outcome;
        using (var ui = new CancellationTokenSource())
        {
            Task view = Task.CompletedTask;
            try
            {
                using (calls.Subscribe(observer))
                {
                    // The plan is made on subscription: an unknown call name fails the stream before anything attaches.
                    var attached = session.WaitUntilAttachedAsync(cancellationToken);
                    if (await Task.WhenAny(attached, observer.Done) != attached && observer.Done.Exception?.InnerException is { } early)
                    {
                        await console.Error.WriteLineAsync($"nitro: {early.Message}");
                        return early is ArgumentException or ProfileException or WindowsProfileException ? NitroCommand.UsageError : NitroCommand.Failure;
                    }

                    await attached;
                    clock.Restart();
                    view = handler.WhileTracingAsync(session, ui.Token);
                    await session.ReleaseWorkloadAsync();
                    var finished = await Task.WhenAny(observer.Done, Task.Delay(request.Timeout, cancellationToken));
                    outcome = finished == observer.Done ? LiveOutcome.Completed
                        : cancellationToken.IsCancellationRequested ? LiveOutcome.Interrupted
                        : LiveOutcome.TimedOut;
                }
            }
            finally
            {
                // Leaving the subscription detached the listener (breakpoints removed, guest running).
                await ui.CancelAsync();
                await view;
            }
        }

        clock.Stop();
        await handler.CompleteAsync(outcome);
        switch (outcome)
        {
            case LiveOutcome.TimedOut:
                await console.Error.WriteLineAsync($"nitro: stopping after {request.Timeout.TotalSeconds:0} s (the guest was still running).");
                break;
            case LiveOutcome.Interrupted:
                await console.Error.WriteLineAsync("nitro: interrupted; the listener detached and the guest is being stopped.");
                break;
            case LiveOutcome.Completed when observer.Done.Exception is { } failure:
                await console.Error.WriteLineAsync($"nitro: tracing failed: {failure.InnerException?.Message}");
                return NitroCommand.Failure;
        }

        await console.Error.WriteLineAsync(StatisticsLine(session, observer.Count, clock.Elapsed));
        return NitroCommand.Ok;
    }

    private static async Task<(IObservable<Syscall>? Calls, int Code)> ShapeAsync(CliConsole console, LiveSession session, LiveRequest request, LiveHandler handler)
    {
        try
        {
            return (handler.Shape(session, session.Syscalls(request.Syscalls.Length == 0 ? null : request.Syscalls)), NitroCommand.Ok);
        }
        catch (Exception ex) when (ex is ArgumentException or ProfileException or WindowsProfileException)
        {
            await console.Error.WriteLineAsync($"nitro: {ex.Message}");
            return (null, NitroCommand.UsageError);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await console.Error.WriteLineAsync($"nitro: could not open the output: {ex.Message}");
            return (null, NitroCommand.Failure);
        }
    }

    public static string StatisticsLine(LiveSession session, long calls, TimeSpan elapsed)
    {
        var seconds = Math.Max(elapsed.TotalSeconds, 0.001);
        if (session.Listener is PluginListener plugin)
        {
            var p = plugin.Statistics;
            return string.Create(
                CultureInfo.InvariantCulture,
                $"nitro: {calls} calls from {p.Forwarded} traps in {elapsed.TotalSeconds:0.0} s ({p.Forwarded / seconds:0} traps/s) through the trap plugin; {p.Filtered} filtered inside QEMU, {p.Lost} lost; host per trap {(p.ObserverTime / Math.Max(p.Events, 1)).TotalMicroseconds:0.0} µs; profile {session.ProfileTime.TotalMilliseconds:0} ms");
        }

        var stats = ((GdbStubListener)session.Listener).Statistics;
        var perTrap = Math.Max(stats.Traps, 1);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"nitro: {calls} calls from {stats.Traps} traps ({stats.OtherStops} other stops) in {elapsed.TotalSeconds:0.0} s ({stats.Traps / seconds:0} traps/s) through the gdbstub; per trap: guest running {(stats.GuestRunning / perTrap).TotalMicroseconds:0} µs, registers {(stats.ReadingRegisters / perTrap).TotalMicroseconds:0} µs, observers {(stats.Observers / perTrap).TotalMicroseconds:0} µs, resuming {(stats.Resuming / perTrap).TotalMicroseconds:0} µs; exit arming changes {stats.ExitArmings}; profile {session.ProfileTime.TotalMilliseconds:0} ms");
    }

    private sealed class CountingObserver(LiveHandler handler) : IObserver<Syscall>
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _count;

        public Task Done => _done.Task;

        public long Count => Interlocked.Read(ref _count);

        public void OnNext(Syscall value)
        {
            handler.OnCall(value);
            Interlocked.Increment(ref _count);
        }

        public void OnError(Exception error) => _done.TrySetException(error);

        public void OnCompleted() => _done.TrySetResult();
    }
}
