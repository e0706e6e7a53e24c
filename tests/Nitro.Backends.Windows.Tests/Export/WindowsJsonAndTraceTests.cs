using System.Reactive.Linq;
using System.Text.Json;
using Nitro.Backends.Windows.Tests.Guest;
using Nitro.Backends.Windows.Tracing;
using Nitro.Reactive.Export;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Windows.Tests.Export;

public sealed class WindowsJsonAndTraceTests
{
    private static (Syscall Entry, Syscall Exit) TraceCreateFile()
    {
        var guest = Guests.Windows7();
        var process = guest.AddProcess(1234, 567, "explorer.exe", @"\Device\HarddiskVolume2\Windows\explorer.exe", @"C:\Windows\Explorer.EXE", wow64: true);
        var thread = guest.AddThread(process, 1240);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        var handle = process.Allocate(8);
        var entry = backend.TraceOne(guest.Enter(0, thread, 0x52, [handle, 0x120089, process.ObjectAttributes(@"\??\C:\a.txt", root: 0x30), 0, 0, 0, 1, 1, 0x20, 0, 0], returnAddress: guest.StubReturn("NtCreateFile")));
        process.Write64(handle, 0x88);
        var exit = backend.TraceOne(guest.Exit(0, thread, 0));
        return (entry, exit);
    }

    [Test]
    public void Json_lines_carry_nitros_windows_fields_and_the_typed_arguments()
    {
        var (entry, exit) = TraceCreateFile();
        var origin = new TimeOrigin(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero), 0);

        using var json = JsonDocument.Parse(SyscallJson.ToJson(entry, origin));
        var root = json.RootElement;
        var process = root.GetProperty("process");
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("name").GetString(), Is.EqualTo("NtCreateFile"));
            Assert.That(root.GetProperty("full_name").GetString(), Is.EqualTo("nt!NtCreateFile"));
            Assert.That(root.GetProperty("thread_id").GetInt64(), Is.EqualTo(1240));
            Assert.That(process.GetProperty("name").GetString(), Is.EqualTo("explorer.exe"));
            Assert.That(process.GetProperty("pid").GetInt32(), Is.EqualTo(1234));
            Assert.That(process.GetProperty("parent_pid").GetInt64(), Is.EqualTo(567));
            Assert.That(process.GetProperty("command_line").GetString(), Is.EqualTo(@"C:\Windows\Explorer.EXE"));
            Assert.That(process.GetProperty("path").GetString(), Is.EqualTo(@"\Device\HarddiskVolume2\Windows\explorer.exe"));
            Assert.That(process.GetProperty("iswow64").GetBoolean(), Is.True);
            Assert.That(process.GetProperty("create_time").GetString(), Does.StartWith("2026-12-03T10:00:00"));
            Assert.That(root.GetProperty("event").GetProperty("type").GetString(), Is.EqualTo("syscall"));
            Assert.That(root.GetProperty("event").GetProperty("rax").GetString(), Is.EqualTo("0x52"));
            Assert.That(root.GetProperty("args").GetArrayLength(), Is.EqualTo(4), "the register arguments r10 rdx r8 r9");
            var decoded = root.GetProperty("decoded");
            Assert.That(decoded.GetProperty("ObjectAttributes").GetString(), Is.EqualTo(@"\??\C:\a.txt"));
            Assert.That(decoded.GetProperty("ObjectAttributes.RootDirectory").GetString(), Is.EqualTo("0x30"));
            Assert.That(decoded.GetProperty("DesiredAccess").GetString(), Is.EqualTo("FILE_GENERIC_READ"));
        });

        using var exitJson = JsonDocument.Parse(SyscallJson.ToJson(exit, origin));
        Assert.That(exitJson.RootElement.GetProperty("decoded").GetProperty("status").GetString(), Is.EqualTo("STATUS_SUCCESS"));
        Assert.That(exitJson.RootElement.GetProperty("decoded").GetProperty("FileHandle").GetString(), Is.EqualTo("0x88"));
        Assert.That(exitJson.RootElement.GetProperty("return").GetInt64(), Is.EqualTo(0));
    }

    [Test]
    public async Task Windows_calls_round_trip_through_the_trace_format()
    {
        var (entry, exit) = TraceCreateFile();
        byte[] bytes;
        using (var written = new MemoryStream())
        {
            using (var writer = new TraceWriter(written, new TraceWriterOptions { Os = "windows", Kernel = "7601.24540", Vcpus = 2, Source = "synthetic" }))
            {
                writer.WriteSyscall(entry);
                writer.WriteSyscall(exit);
            }

            bytes = written.ToArray();
        }

        using var stream = new MemoryStream(bytes);
        var replayed = await TraceReplay.Syscalls(stream).ToList();

        Assert.That(replayed, Has.Count.EqualTo(2));
        for (var i = 0; i < 2; i++)
        {
            var original = i == 0 ? entry : exit;
            var copy = replayed[i];
            Assert.That((copy.Name, copy.FullName, copy.Number, copy.ThreadId, copy.Direction), Is.EqualTo((original.Name, original.FullName, original.Number, original.ThreadId, original.Direction)));
            Assert.That(copy.Arguments.Convention, Is.SameAs(CallingConvention.WindowsX64));
            Assert.That(copy.Process, Is.EqualTo(original.Process));
            Assert.That(copy.Process!.Properties, Is.EquivalentTo(original.Process!.Properties));
            Assert.That(copy.Decoded, Is.EquivalentTo(original.Decoded));
            Assert.That(copy.Arguments[0], Is.EqualTo(original.Arguments[0]));
        }
    }
}
