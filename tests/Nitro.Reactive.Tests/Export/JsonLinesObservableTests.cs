using System.Reactive.Linq;
using System.Reactive.Subjects;
using System.Text;
using System.Text.Json;
using Nitro.Reactive.Export;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Tests.Export;

public sealed class JsonLinesObservableTests
{
    [Test]
    public void WriteJsonLines_passes_calls_through_and_flushes_before_completion()
    {
        using var stream = new MemoryStream();
        var calls = new[] { SyscallSamples.OpenatEntry(), SyscallSamples.OpenatExit(3, SyscallSamples.OriginMonotonic + 10) };
        var seen = new List<Syscall>();
        long lengthAtCompletion = -1;

        using (calls.ToObservable().WriteJsonLines(stream, SyscallSamples.Origin).Subscribe(seen.Add, () => lengthAtCompletion = stream.Length))
        {
        }

        var lines = Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Multiple(() =>
        {
            Assert.That(seen, Is.EqualTo(calls));
            Assert.That(lengthAtCompletion, Is.EqualTo(stream.Length), "everything is in the stream when OnCompleted arrives");
            Assert.That(lines, Has.Length.EqualTo(2));
            Assert.That(JsonDocument.Parse(lines[1]).RootElement.GetProperty("return").GetInt64(), Is.EqualTo(3));
            Assert.That(stream.CanWrite, Is.True, "the caller's stream stays open");
        });
    }

    [Test]
    public void WriteJsonLines_writes_a_line_before_passing_the_call_on()
    {
        using var stream = new MemoryStream();
        using var subject = new Subject<Syscall>();
        long lengthWhenSeen = -1;
        using var subscription = subject.WriteJsonLines(stream, SyscallSamples.Origin, autoFlush: true).Subscribe(_ => lengthWhenSeen = stream.Length);

        subject.OnNext(SyscallSamples.OpenatEntry());

        Assert.That(lengthWhenSeen, Is.EqualTo(stream.Length).And.GreaterThan(0));
    }

    [Test]
    public void WriteJsonLines_flushes_and_passes_on_the_source_error()
    {
        using var stream = new MemoryStream();
        var failure = new InvalidOperationException("listener lost");
        Exception? error = null;
        long lengthAtError = -1;

        using (Observable.Return(SyscallSamples.OpenatEntry()).Concat(Observable.Throw<Syscall>(failure))
            .WriteJsonLines(stream, SyscallSamples.Origin)
            .Subscribe(_ => { }, e => { error = e; lengthAtError = stream.Length; }))
        {
        }

        Assert.Multiple(() =>
        {
            Assert.That(error, Is.SameAs(failure));
            Assert.That(lengthAtError, Is.GreaterThan(0));
        });
    }

    [Test]
    public void WriteJsonLines_flushes_on_disposal()
    {
        using var stream = new MemoryStream();
        using var subject = new Subject<Syscall>();
        var subscription = subject.WriteJsonLines(stream, SyscallSamples.Origin).Subscribe(_ => { });
        subject.OnNext(SyscallSamples.OpenatEntry());
        var beforeDispose = stream.Length;

        subscription.Dispose();
        subject.OnNext(SyscallSamples.OpenatEntry());

        Assert.Multiple(() =>
        {
            Assert.That(beforeDispose, Is.Zero, "buffered until then");
            Assert.That(Encoding.UTF8.GetString(stream.ToArray()).Count(c => c == '\n'), Is.EqualTo(1), "nothing is written after disposal");
        });
    }

    [Test]
    public void WriteJsonLines_ends_with_the_error_when_the_stream_fails()
    {
        using var stream = new FailingStream();
        Exception? error = null;
        var seen = 0;

        using (Observable.Repeat(SyscallSamples.OpenatEntry(), 3)
            .WriteJsonLines(stream, SyscallSamples.Origin, autoFlush: true)
            .Subscribe(_ => seen++, e => error = e))
        {
        }

        Assert.Multiple(() =>
        {
            Assert.That(error, Is.TypeOf<IOException>());
            Assert.That(seen, Is.Zero, "a call that could not be written is not passed on");
        });
    }

    [Test]
    public void WriteJsonLines_handles_empty_and_never()
    {
        using var stream = new MemoryStream();
        var completed = false;
        using (Observable.Empty<Syscall>().WriteJsonLines(stream, SyscallSamples.Origin).Subscribe(_ => { }, () => completed = true))
        {
        }

        var neverCompleted = false;
        using (Observable.Never<Syscall>().WriteJsonLines(stream, SyscallSamples.Origin).Subscribe(_ => { }, () => neverCompleted = true))
        {
        }

        Assert.Multiple(() =>
        {
            Assert.That(completed, Is.True);
            Assert.That(neverCompleted, Is.False);
            Assert.That(stream.Length, Is.Zero);
        });
    }

    [Test]
    public void WriteJsonLines_rejects_null_arguments()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => ((IObservable<Syscall>)null!).WriteJsonLines(Stream.Null, SyscallSamples.Origin), Throws.ArgumentNullException);
            Assert.That(() => Observable.Empty<Syscall>().WriteJsonLines(null!, SyscallSamples.Origin), Throws.ArgumentNullException);
        });
    }

    private sealed class FailingStream : MemoryStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => throw new IOException("disk full");

        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("disk full");
    }
}
