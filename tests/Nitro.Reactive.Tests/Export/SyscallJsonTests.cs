using System.Text.Json;
using Nitro.Reactive.Events;
using Nitro.Reactive.Export;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Tests.Export;

public sealed class SyscallJsonTests
{
    private static readonly string[] s_hostileStrings =
    [
        "quote\" backslash\\ slash/",
        "controls \0 \u0001 \u001b[31m \b \f \n \r \t \u007f end",
        "line separators \u2028 \u2029 and html <script>&'",
        "non-ASCII: Grüße 日本語 😀",
        "lone high \uD800 then text",
        "lone low \uDC00",
        "reversed pair \uDC00\uD800",
        "trailing high \uDBFF",
        string.Empty,
    ];

    [Test]
    public void ToJson_writes_Nitro_fields_of_an_entry()
    {
        var syscall = SyscallSamples.OpenatEntry(
            new Dictionary<string, object?>(StringComparer.Ordinal) { ["filename"] = "/etc/shadow" },
            SyscallSamples.Cat(),
            timestamp: SyscallSamples.OriginMonotonic + 1_234_567_800);

        using var document = JsonDocument.Parse(SyscallJson.ToJson(syscall, SyscallSamples.Origin));
        var root = document.RootElement;

        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("time").GetString(), Is.EqualTo("2026-01-02T03:04:06.2345678Z"));
            Assert.That(root.GetProperty("direction").GetString(), Is.EqualTo("enter"));
            Assert.That(root.GetProperty("name").GetString(), Is.EqualTo("openat"));
            Assert.That(root.GetProperty("full_name").GetString(), Is.EqualTo("__x64_sys_openat"));
            Assert.That(root.GetProperty("number").GetInt64(), Is.EqualTo(257));
            Assert.That(root.GetProperty("vcpu").GetInt32(), Is.Zero);
            Assert.That(root.GetProperty("thread_id").GetInt64(), Is.EqualTo(42));
            Assert.That(root.TryGetProperty("return", out _), Is.False, "an entry has no return value");
            Assert.That(root.TryGetProperty("modified", out _), Is.False, "nothing was modified");
            Assert.That(root.GetProperty("decoded").GetProperty("filename").GetString(), Is.EqualTo("/etc/shadow"));

            var process = root.GetProperty("process");
            Assert.That(process.GetProperty("name").GetString(), Is.EqualTo("cat"));
            Assert.That(process.GetProperty("pid").GetInt32(), Is.EqualTo(42));
            Assert.That(process.GetProperty("ppid").GetInt32(), Is.EqualTo(1));
            Assert.That(process.GetProperty("tgid").GetInt32(), Is.EqualTo(42));
            Assert.That(process.GetProperty("path").GetString(), Is.EqualTo("/bin/cat"));

            var @event = root.GetProperty("event");
            Assert.That(@event.GetProperty("vcpu").GetInt32(), Is.Zero);
            Assert.That(@event.GetProperty("type").GetString(), Is.EqualTo("syscall"));
            Assert.That(@event.GetProperty("direction").GetString(), Is.EqualTo("enter"));
            Assert.That(@event.GetProperty("cr3").GetString(), Is.EqualTo("0x12345000"));
            Assert.That(@event.GetProperty("rax").GetString(), Is.EqualTo("0x101"));
            Assert.That(@event.GetProperty("time").GetString(), Is.EqualTo(root.GetProperty("time").GetString()));
        });
    }

    [Test]
    public void ToJson_writes_register_arguments_in_Linux_x64_order_as_hex()
    {
        var json = SyscallJson.ToJson(SyscallSamples.OpenatEntry(), SyscallSamples.Origin);

        using var document = JsonDocument.Parse(json);
        var args = document.RootElement.GetProperty("args").EnumerateArray().Select(a => a.GetString()).ToArray();

        Assert.That(args, Is.EqualTo(new[] { "0xffffff9c", "0x7ffd1234abcd", "0x80000", "0x1a4", "0x0", "0xffffffffffffffff" }));
    }

    [Test]
    public void ToJson_writes_32_bit_arguments_of_the_ia32_convention_zero_extended()
    {
        var json = SyscallJson.ToJson(SyscallSamples.OpenatEntry(convention: CallingConvention.LinuxIa32), SyscallSamples.Origin);

        using var document = JsonDocument.Parse(json);
        var args = document.RootElement.GetProperty("args").EnumerateArray().Select(a => a.GetString()).ToArray();

        // ebx ecx edx esi edi ebp
        Assert.That(args, Is.EqualTo(new[] { "0x1111", "0x2222", "0x80000", "0x1234abcd", "0xffffff9c", "0x3333" }));
    }

    [Test]
    public void ToJson_leaves_out_stack_arguments_instead_of_reading_memory()
    {
        // No memory is attached: reading argument 4 of Windows x64 would throw.
        var json = SyscallJson.ToJson(SyscallSamples.OpenatEntry(convention: CallingConvention.WindowsX64), SyscallSamples.Origin);

        using var document = JsonDocument.Parse(json);
        var args = document.RootElement.GetProperty("args").EnumerateArray().Select(a => a.GetString()).ToArray();

        // r10 rdx r8 r9
        Assert.That(args, Is.EqualTo(new[] { "0x1a4", "0x80000", "0x0", "0xffffffffffffffff" }));
    }

    [Test]
    public void ToJson_writes_signed_return_value_and_duration_of_a_paired_exit()
    {
        var entry = SyscallSamples.OpenatEntry(process: SyscallSamples.Cat());
        var exit = SyscallSamples.OpenatExit(-2, SyscallSamples.OriginMonotonic + 1500).WithEntry(entry);

        using var document = JsonDocument.Parse(SyscallJson.ToJson(exit, SyscallSamples.Origin));
        var root = document.RootElement;

        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("direction").GetString(), Is.EqualTo("exit"));
            Assert.That(root.GetProperty("return").GetInt64(), Is.EqualTo(-2));
            Assert.That(root.GetProperty("duration_ns").GetInt64(), Is.EqualTo(1500));
            Assert.That(root.GetProperty("event").GetProperty("direction").GetString(), Is.EqualTo("exit"));
            Assert.That(root.GetProperty("event").GetProperty("rax").GetString(), Is.EqualTo("0xfffffffffffffffe"));
        });
    }

    [Test]
    public void ToJson_leaves_out_duration_of_an_unpaired_exit()
    {
        var exit = SyscallSamples.OpenatExit(3, SyscallSamples.OriginMonotonic);

        using var document = JsonDocument.Parse(SyscallJson.ToJson(exit, SyscallSamples.Origin));

        Assert.Multiple(() =>
        {
            Assert.That(document.RootElement.GetProperty("return").GetInt64(), Is.EqualTo(3));
            Assert.That(document.RootElement.TryGetProperty("duration_ns", out _), Is.False);
        });
    }

    [Test]
    public void ToJson_writes_null_process_when_unknown()
    {
        using var document = JsonDocument.Parse(SyscallJson.ToJson(SyscallSamples.OpenatEntry(process: null), SyscallSamples.Origin));

        Assert.That(document.RootElement.GetProperty("process").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public void ToJson_writes_null_ppid_and_skips_properties_that_repeat_the_fixed_fields()
    {
        var process = new Process(7, "sh", parentPid: null, new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["pid"] = 999,
            ["name"] = "spoofed",
            ["ppid"] = 998,
            ["tgid"] = 7,
        });

        var json = SyscallJson.ToJson(SyscallSamples.OpenatEntry(process: process), SyscallSamples.Origin);
        using var document = JsonDocument.Parse(json);
        var names = document.RootElement.GetProperty("process").EnumerateObject().Select(p => p.Name).ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(names, Is.EqualTo(new[] { "name", "pid", "ppid", "tgid" }));
            Assert.That(document.RootElement.GetProperty("process").GetProperty("pid").GetInt32(), Is.EqualTo(7));
            Assert.That(document.RootElement.GetProperty("process").GetProperty("ppid").ValueKind, Is.EqualTo(JsonValueKind.Null));
        });
    }

    [Test]
    public void ToJson_writes_sysenter_type_for_32_bit_entries()
    {
        var @event = SyscallSamples.Event(SyscallDirection.Enter, 5, mechanism: SyscallMechanism.Sysenter, vcpu: 3);
        var syscall = new Syscall(@event, 5, "open", "__ia32_sys_open", null, new ArgumentMap(@event, CallingConvention.LinuxIa32, null));

        using var document = JsonDocument.Parse(SyscallJson.ToJson(syscall, SyscallSamples.Origin));
        var @eventJson = document.RootElement.GetProperty("event");

        Assert.Multiple(() =>
        {
            Assert.That(@eventJson.GetProperty("type").GetString(), Is.EqualTo("sysenter"));
            Assert.That(@eventJson.GetProperty("vcpu").GetInt32(), Is.EqualTo(3));
            Assert.That(document.RootElement.TryGetProperty("thread_id", out _), Is.False, "thread id was not given");
        });
    }

    [Test]
    public void ToJson_writes_each_kind_of_decoded_value()
    {
        var decoded = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["none"] = null,
            ["fd"] = -100,
            ["flags"] = 0x80000u,
            ["big"] = ulong.MaxValue,
            ["mode"] = (ushort)420,
            ["ok"] = true,
            ["argv"] = new[] { "ls", "-l" },
            ["list"] = new List<object?> { 1, "two", null },
            ["buffer"] = new byte[] { 0, 1, 2, 0xff },
            ["memory"] = new ReadOnlyMemory<byte>([9, 8]),
            ["direction"] = SyscallDirection.Exit,
            ["ratio"] = 0.5,
            ["nan"] = double.NaN,
            ["path"] = new Unreadable(0xdead000, "not mapped"),
            ["nested"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["inner"] = 1L },
            ["env"] = new Dictionary<string, string>(StringComparer.Ordinal) { ["HOME"] = "/root" },
            ["other"] = new Version(1, 2),
        };

        using var document = JsonDocument.Parse(SyscallJson.ToJson(SyscallSamples.OpenatEntry(decoded), SyscallSamples.Origin));
        var values = document.RootElement.GetProperty("decoded");

        Assert.Multiple(() =>
        {
            Assert.That(values.GetProperty("none").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(values.GetProperty("fd").GetInt32(), Is.EqualTo(-100));
            Assert.That(values.GetProperty("flags").GetUInt32(), Is.EqualTo(0x80000u));
            Assert.That(values.GetProperty("big").GetUInt64(), Is.EqualTo(ulong.MaxValue));
            Assert.That(values.GetProperty("mode").GetInt32(), Is.EqualTo(420));
            Assert.That(values.GetProperty("ok").GetBoolean(), Is.True);
            Assert.That(values.GetProperty("argv").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "ls", "-l" }));
            Assert.That(values.GetProperty("list").GetRawText(), Is.EqualTo("[1,\"two\",null]"));
            Assert.That(values.GetProperty("buffer").GetBytesFromBase64(), Is.EqualTo(new byte[] { 0, 1, 2, 0xff }));
            Assert.That(values.GetProperty("memory").GetBytesFromBase64(), Is.EqualTo(new byte[] { 9, 8 }));
            Assert.That(values.GetProperty("direction").GetString(), Is.EqualTo("Exit"));
            Assert.That(values.GetProperty("ratio").GetDouble(), Is.EqualTo(0.5));
            Assert.That(values.GetProperty("nan").GetString(), Is.EqualTo("NaN"));
            Assert.That(values.GetProperty("path").GetProperty("unreadable").GetString(), Is.EqualTo("0xdead000"));
            Assert.That(values.GetProperty("path").GetProperty("reason").GetString(), Is.EqualTo("not mapped"));
            Assert.That(values.GetProperty("nested").GetProperty("inner").GetInt64(), Is.EqualTo(1));
            Assert.That(values.GetProperty("env").GetProperty("HOME").GetString(), Is.EqualTo("/root"));
            Assert.That(values.GetProperty("other").GetString(), Is.EqualTo("1.2"));
        });
    }

    [Test]
    public void ToJson_bounds_the_nesting_of_self_referencing_values()
    {
        var cycle = new List<object?>();
        cycle.Add(cycle);

        var json = SyscallJson.ToJson(
            SyscallSamples.OpenatEntry(new Dictionary<string, object?>(StringComparer.Ordinal) { ["cycle"] = cycle }),
            SyscallSamples.Origin);

        using var document = JsonDocument.Parse(json);
        var depth = 0;
        var element = document.RootElement.GetProperty("decoded").GetProperty("cycle");
        while (element.ValueKind == JsonValueKind.Array)
        {
            depth++;
            element = element[0];
        }

        Assert.Multiple(() =>
        {
            Assert.That(depth, Is.InRange(1, 8));
            Assert.That(element.ValueKind, Is.EqualTo(JsonValueKind.String), "the innermost level falls back to ToString");
        });
    }

    [Test]
    public void ToJson_lists_modified_arguments()
    {
        var access = new InMemoryVcpu();
        using var pause = VcpuHandle.Pause(0, access);
        var @event = SyscallSamples.Event(SyscallDirection.Enter, 257, handle: pause.Handle);
        var arguments = new ArgumentMap(@event, CallingConvention.LinuxX64, null);
        arguments.Set(1, 0x4000);
        var syscall = new Syscall(@event, 257, "openat", "__x64_sys_openat", null, arguments);

        using var document = JsonDocument.Parse(SyscallJson.ToJson(syscall, SyscallSamples.Origin));

        Assert.Multiple(() =>
        {
            Assert.That(document.RootElement.GetProperty("modified").GetRawText(), Is.EqualTo("[1]"));
            Assert.That(document.RootElement.GetProperty("args")[1].GetString(), Is.EqualTo("0x4000"), "args show the value the guest will see");
        });
    }

    [TestCaseSource(nameof(s_hostileStrings))]
    public void ToJson_escapes_hostile_guest_strings_everywhere_they_appear(string hostile)
    {
        var process = new Process(1, hostile, 0, new Dictionary<string, object?>(StringComparer.Ordinal) { [hostile + "k"] = hostile });
        var decoded = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["value"] = hostile,
            [hostile] = 1,
            ["argv"] = new[] { hostile, hostile },
            ["bad"] = new Unreadable(1, hostile),
        };
        var syscall = SyscallSamples.OpenatEntry(decoded, process, name: hostile);
        var expected = Expected(hostile);

        var json = SyscallJson.ToJson(syscall, SyscallSamples.Origin);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var values = root.GetProperty("decoded");

        Assert.Multiple(() =>
        {
            Assert.That(json, Does.Not.Contain("\n").And.Not.Contain("\r"), "a line must stay one line");
            Assert.That(root.GetProperty("name").GetString(), Is.EqualTo(expected));
            Assert.That(root.GetProperty("full_name").GetString(), Is.EqualTo("__x64_sys_" + expected));
            Assert.That(root.GetProperty("process").GetProperty("name").GetString(), Is.EqualTo(expected));
            Assert.That(root.GetProperty("process").GetProperty(expected + "k").GetString(), Is.EqualTo(expected));
            Assert.That(values.GetProperty("value").GetString(), Is.EqualTo(expected));
            Assert.That(values.GetProperty(expected).GetInt32(), Is.EqualTo(1));
            Assert.That(values.GetProperty("argv")[1].GetString(), Is.EqualTo(expected));
            Assert.That(values.GetProperty("bad").GetProperty("reason").GetString(), Is.EqualTo(expected));
        });
    }

    [Test]
    public void ToJson_replaces_lone_surrogates_with_the_replacement_character()
    {
        var syscall = SyscallSamples.OpenatEntry(new Dictionary<string, object?>(StringComparer.Ordinal) { ["s"] = "a\uD800b\uDC00c😀" });

        using var document = JsonDocument.Parse(SyscallJson.ToJson(syscall, SyscallSamples.Origin));

        Assert.That(document.RootElement.GetProperty("decoded").GetProperty("s").GetString(), Is.EqualTo("a\uFFFDb\uFFFDc😀"));
    }

    [Test]
    public void ToJson_rejects_null()
    {
        Assert.That(() => SyscallJson.ToJson(null!, SyscallSamples.Origin), Throws.ArgumentNullException);
    }

    private static string Expected(string text) =>
        System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(text));
}
