using System.Buffers;
using System.Text;
using System.Text.Json;
using Nitro.Reactive.Export;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Tests.Export;

public sealed class JsonLinesWriterTests
{
    [Test]
    public void Write_produces_one_parseable_line_per_syscall()
    {
        using var stream = new MemoryStream();
        using (var writer = new JsonLinesWriter(stream, SyscallSamples.Origin, leaveOpen: true))
        {
            for (var i = 0; i < 3; i++)
            {
                writer.Write(SyscallSamples.OpenatEntry(process: SyscallSamples.Cat(), timestamp: SyscallSamples.OriginMonotonic + i));
            }

            Assert.That(writer.LinesWritten, Is.EqualTo(3));
        }

        var text = Encoding.UTF8.GetString(stream.ToArray());
        var lines = text.Split('\n');

        Assert.Multiple(() =>
        {
            Assert.That(lines, Has.Length.EqualTo(4));
            Assert.That(lines[^1], Is.Empty, "every line ends with a newline");
            for (var i = 0; i < 3; i++)
            {
                using var document = JsonDocument.Parse(lines[i]);
                Assert.That(document.RootElement.GetProperty("name").GetString(), Is.EqualTo("openat"));
                Assert.That(lines[i], Is.EqualTo(SyscallJson.ToJson(SyscallSamples.OpenatEntry(process: SyscallSamples.Cat(), timestamp: SyscallSamples.OriginMonotonic + i), SyscallSamples.Origin)));
            }
        });
    }

    [Test]
    public void What_was_read_late_is_named_after_modified_and_ToJson_agrees()
    {
        var sample = SyscallSamples.OpenatEntry(process: SyscallSamples.Cat());
        var call = new Syscall(sample.Event, sample.Number, sample.Name, sample.FullName, sample.Process, sample.Arguments, sample.ThreadId, sample.Decoded) { ReadLate = ["process", "pathname"] };
        using var stream = new MemoryStream();
        using (var writer = new JsonLinesWriter(stream, SyscallSamples.Origin, leaveOpen: true))
        {
            writer.Write(call);
            writer.Write(sample);
        }

        var lines = Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Is.EqualTo(SyscallJson.ToJson(call, SyscallSamples.Origin)));
        Assert.That(JsonDocument.Parse(lines[0]).RootElement.GetProperty("read_late").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "process", "pathname" }));
        Assert.That(lines[1], Does.Not.Contain("read_late"), "only calls with late values say so");
    }

    [TestCase(0L)]
    [TestCase(1L)]
    [TestCase(9L)]
    [TestCase(10L)]
    [TestCase(99L)]
    [TestCase(100L)]
    [TestCase(9_999L)]
    [TestCase(10_000L)]
    [TestCase(1_000_001L)]
    [TestCase(9_999_999L)]
    public void Time_fractions_of_every_width_are_written_as_ToJson_writes_them(long ticks)
    {
        // Three seconds and the given number of 100 ns ticks after the origin, then 50 ns less (rounds down).
        var timestamps = new[] { SyscallSamples.OriginMonotonic + 3_000_000_000 + (ticks * 100), SyscallSamples.OriginMonotonic + 3_000_000_000 + (ticks * 100) + 50 };
        foreach (var timestamp in timestamps)
        {
            var call = SyscallSamples.OpenatExit(-2, timestamp);
            using var stream = new MemoryStream();
            using (var writer = new JsonLinesWriter(stream, SyscallSamples.Origin, leaveOpen: true))
            {
                writer.Write(call);
            }

            var line = Encoding.UTF8.GetString(stream.ToArray());
            Assert.That(line, Is.EqualTo(SyscallJson.ToJson(call, SyscallSamples.Origin) + "\n"));
            Assert.That(line, Does.Contain($"\"time\":\"2026-01-02T03:04:08.{ticks:D7}Z\""));
        }
    }

    [Test]
    public void Write_buffers_until_Flush()
    {
        using var stream = new MemoryStream();
        using var writer = new JsonLinesWriter(stream, SyscallSamples.Origin);

        writer.Write(SyscallSamples.OpenatEntry());
        var beforeFlush = stream.Length;
        writer.Flush();

        Assert.Multiple(() =>
        {
            Assert.That(beforeFlush, Is.Zero);
            Assert.That(stream.Length, Is.GreaterThan(0));
        });
    }

    [Test]
    public void AutoFlush_pushes_every_line_at_once()
    {
        using var stream = new MemoryStream();
        using var writer = new JsonLinesWriter(stream, SyscallSamples.Origin) { AutoFlush = true };

        writer.Write(SyscallSamples.OpenatEntry());

        Assert.That(Encoding.UTF8.GetString(stream.ToArray()), Is.EqualTo(SyscallJson.ToJson(SyscallSamples.OpenatEntry(), SyscallSamples.Origin) + "\n"));
    }

    [Test]
    public void Write_drains_large_output_without_waiting_for_Flush()
    {
        using var stream = new MemoryStream();
        using var writer = new JsonLinesWriter(stream, SyscallSamples.Origin);

        for (var i = 0; i < 1000; i++)
        {
            writer.Write(SyscallSamples.OpenatEntry());
        }

        Assert.That(stream.Length, Is.GreaterThan(0), "a bounded buffer drains to the stream on its own");
    }

    [Test]
    public void Dispose_flushes_and_closes_the_stream_unless_left_open()
    {
        var closed = new MemoryStream();
        var writer = new JsonLinesWriter(closed, SyscallSamples.Origin);
        writer.Write(SyscallSamples.OpenatEntry());
        writer.Dispose();

        using var open = new MemoryStream();
        using (var other = new JsonLinesWriter(open, SyscallSamples.Origin, leaveOpen: true))
        {
            other.Write(SyscallSamples.OpenatEntry());
        }

        Assert.Multiple(() =>
        {
            Assert.That(closed.CanWrite, Is.False, "the stream is closed");
            Assert.That(closed.ToArray(), Is.Not.Empty, "the line was flushed before closing");
            Assert.That(open.CanWrite, Is.True);
            Assert.That(open.Length, Is.GreaterThan(0));
        });
    }

    [Test]
    public void Write_after_Dispose_throws()
    {
        var writer = new JsonLinesWriter(new MemoryStream(), SyscallSamples.Origin);
        writer.Dispose();
        writer.Dispose();

        Assert.That(() => writer.Write(SyscallSamples.OpenatEntry()), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void TextWriter_output_matches_ToJson_with_non_ASCII_intact()
    {
        var syscall = SyscallSamples.OpenatEntry(new Dictionary<string, object?>(StringComparer.Ordinal) { ["path"] = "/tmp/日本語 😀" });
        using var text = new StringWriter();
        using (var writer = new JsonLinesWriter(text, SyscallSamples.Origin, leaveOpen: true))
        {
            writer.Write(syscall);
            writer.Write(syscall);
        }

        var line = SyscallJson.ToJson(syscall, SyscallSamples.Origin);

        Assert.Multiple(() =>
        {
            Assert.That(text.ToString(), Is.EqualTo(line + "\n" + line + "\n"));
            Assert.That(line, Does.Contain("/tmp/日本語 "), "BMP text is written as UTF-8, not escaped");
            Assert.That(JsonDocument.Parse(line).RootElement.GetProperty("decoded").GetProperty("path").GetString(), Is.EqualTo("/tmp/日本語 😀"));
        });
    }

    [Test]
    public void BufferWriter_receives_each_line_as_it_is_written()
    {
        var output = new ArrayBufferWriter<byte>();
        using var writer = new JsonLinesWriter(output, SyscallSamples.Origin);

        writer.Write(SyscallSamples.OpenatEntry());

        Assert.That(Encoding.UTF8.GetString(output.WrittenSpan), Is.EqualTo(SyscallJson.ToJson(SyscallSamples.OpenatEntry(), SyscallSamples.Origin) + "\n"));
    }

    [Test]
    public void Write_that_fails_midway_leaves_no_partial_line()
    {
        var bad = SyscallSamples.OpenatEntry(new Dictionary<string, object?>(StringComparer.Ordinal) { ["ok"] = "x", ["bad"] = new ThrowingValue() });
        using var stream = new MemoryStream();
        using (var writer = new JsonLinesWriter(stream, SyscallSamples.Origin, leaveOpen: true))
        {
            writer.Write(SyscallSamples.OpenatEntry());
            Assert.That(() => writer.Write(bad), Throws.InvalidOperationException);
            writer.Write(SyscallSamples.OpenatEntry(name: "read"));
            Assert.That(writer.LinesWritten, Is.EqualTo(2));
        }

        var lines = Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.That(lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("name").GetString()), Is.EqualTo(new[] { "openat", "read" }));
    }

    [Test]
    public void Write_discards_lines_the_stream_refused()
    {
        using var stream = new FailingOnceStream();
        using var writer = new JsonLinesWriter(stream, SyscallSamples.Origin, leaveOpen: true) { AutoFlush = true };

        Assert.That(() => writer.Write(SyscallSamples.OpenatEntry()), Throws.TypeOf<IOException>());
        writer.Write(SyscallSamples.OpenatEntry(name: "read"));

        var lines = Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("name").GetString()), Is.EqualTo(new[] { "read" }));
    }

    [Test]
    public void Constructor_rejects_a_read_only_stream()
    {
        using var readOnly = new MemoryStream([], writable: false);

        Assert.That(() => new JsonLinesWriter(readOnly, SyscallSamples.Origin), Throws.ArgumentException.With.Message.Contains("not writable"));
    }

    private sealed class FailingOnceStream : MemoryStream
    {
        private bool _failed;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (!_failed)
            {
                _failed = true;
                throw new IOException("transient");
            }

            base.Write(buffer);
        }
    }

    private sealed class ThrowingValue
    {
        public override string ToString() => throw new InvalidOperationException("boom");
    }
}
