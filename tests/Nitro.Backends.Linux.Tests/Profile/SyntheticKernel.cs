using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Nitro.Backends.Linux.Tests.Btf;
using Nitro.Backends.Linux.Tests.Symbols;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Tests.Profile;

/// <summary>
/// A tiny fake x86-64 Linux kernel in a byte array: an image with entry code, a banner, a syscall
/// table, init_task and a BTF blob, plus kallsyms tables describing it — loaded at a chosen
/// physical address and KASLR virtual base, with a decoy banner in low memory.
/// </summary>
internal sealed class SyntheticKernel
{
    public const int MemorySize = 8 << 20;
    public const int FillerSymbols = 12_000;
    public const int SyscallCount = 300;
    public const ulong EntryOffset = 0x1000;
    public const ulong SysretqOffset = 0x1100;
    public const ulong ReturnToUserOffset = 0x1200;
    public const ulong DoSyscall64Offset = 0x1300;
    public const ulong NiSyscallOffset = 0x9000;
    public const ulong BannerOffset = 0x100000;
    public const ulong SysCallTableOffset = 0x100400;
    public const ulong BtfOffset = 0x101000;
    public const ulong KallsymsOffset = 0x200000;
    public const ulong InitTaskOffset = 0x300000;
    public const ulong PerCpuOffsetOffset = 0x303000;
    public const ulong EndOffset = 0x310000;
    public const ulong CurrentTask = 0x1FB80;

    // Offsets mirror Debian's 6.1 build.
    public const int TaskSize = 9792, TaskTasks = 2192, TaskMm = 2272, TaskPid = 2416, TaskTgid = 2420;
    public const int TaskRealParent = 2432, TaskGroupLeader = 2480, TaskComm = 2976;

    private SyntheticKernel(ArrayGuestMemory memory, ulong text, ulong physicalText, string banner, EncodedKallsyms kallsyms, List<(string Name, char Type, ulong Address)> symbols)
    {
        Memory = memory;
        Text = text;
        PhysicalText = physicalText;
        Banner = banner;
        Kallsyms = kallsyms;
        Symbols = symbols;
    }

    public ArrayGuestMemory Memory { get; }

    public byte[] Bytes => MemoryBytes(Memory);

    public ulong Text { get; }

    public ulong PhysicalText { get; }

    public ulong Delta => Text - PhysicalText;

    public string Banner { get; }

    public EncodedKallsyms Kallsyms { get; }

    public ulong KallsymsPhysical => PhysicalText + KallsymsOffset;

    public List<(string Name, char Type, ulong Address)> Symbols { get; }

    public static string SyscallName(int number) => number switch
    {
        0 => "read",
        1 => "write",
        2 => "open",
        59 => "execve",
        231 => "exit_group",
        257 => "openat",
        _ => "call" + number.ToString(CultureInfo.InvariantCulture),
    };

    public static bool IsNi(int number) => number is 13 or 177;

    public static SyntheticKernel Create(
        ulong text = 0xFFFF_FFFF_9A00_0000,
        ulong physicalText = 0x40_0000,
        string banner = "Linux version 6.1.0-synthetic (test@nitro) #1 SMP PREEMPT_DYNAMIC",
        KallsymsOptions? options = null,
        Func<IReadOnlyList<(string Name, char Type, ulong Address)>, IEnumerable<(string Name, char Type, ulong Address)>>? editSymbols = null)
    {
        var bytes = new byte[MemorySize];
        var image = bytes.AsSpan((int)physicalText, (int)EndOffset);
        var symbols = BaseSymbols(text);

        // Code: swapgs at the entry and before sysretq.
        image[(int)EntryOffset..].CopyFrom([0x0F, 0x01, 0xF8, 0x65, 0x48, 0x89, 0x24]);
        image[(int)SysretqOffset..].CopyFrom([0x0F, 0x01, 0xF8, 0x48, 0x0F, 0x07]);

        // Syscall handlers and the table.
        for (var i = 0; i < SyscallCount; i++)
        {
            var handler = IsNi(i) ? text + NiSyscallOffset : text + 0x10000 + (0x10UL * (ulong)i);
            if (!IsNi(i))
            {
                symbols.Add(("__x64_sys_" + SyscallName(i), 'T', handler));
            }

            BinaryPrimitives.WriteUInt64LittleEndian(image[(int)(SysCallTableOffset + (8UL * (ulong)i))..], handler);
        }

        for (var i = 0; i < FillerSymbols; i++)
        {
            symbols.Add(("filler_function_" + i.ToString(CultureInfo.InvariantCulture), i % 3 == 0 ? 'T' : 't', text + 0x20000 + (0x10UL * (ulong)i)));
        }

        Encoding.ASCII.GetBytes(banner + "\n\0").CopyTo(image[(int)BannerOffset..]);

        var btf = BuildBtf();
        btf.CopyTo(image[(int)BtfOffset..]);
        symbols.Add(("__stop_BTF", 'R', text + BtfOffset + (ulong)btf.Length));

        // init_task: its own group leader and parent, named swapper/0.
        var initTask = image[(int)InitTaskOffset..];
        BinaryPrimitives.WriteUInt64LittleEndian(initTask[TaskGroupLeader..], text + InitTaskOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(initTask[TaskRealParent..], text + InitTaskOffset);
        Encoding.ASCII.GetBytes("swapper/0").CopyTo(initTask[TaskComm..]);

        var final = editSymbols is null ? symbols : editSymbols(symbols).ToList();
        var kallsyms = KallsymsEncoder.Encode(final, text, options);
        kallsyms.Bytes.CopyTo(image[(int)KallsymsOffset..]);

        // A decoy banner (the printk buffer has one) at a page boundary in low memory.
        Encoding.ASCII.GetBytes(banner + "\0").CopyTo(bytes.AsSpan(0x2000));

        return new SyntheticKernel(new ArrayGuestMemory(bytes), text, physicalText, banner, kallsyms, final);
    }

    private static List<(string Name, char Type, ulong Address)> BaseSymbols(ulong text)
    {
        return new List<(string Name, char Type, ulong Address)>
        {
            ("fixed_percpu_data", 'A', 0),
            ("cpu_number", 'A', 0x1000),
            ("current_task", 'A', CurrentTask),
            ("_text", 'T', text),
            ("startup_64", 'T', text),
            ("entry_SYSCALL_64", 'T', text + EntryOffset),
            ("entry_SYSRETQ_unsafe_stack", 'T', text + SysretqOffset),
            ("swapgs_restore_regs_and_return_to_usermode", 'T', text + ReturnToUserOffset),
            ("do_syscall_64", 'T', text + DoSyscall64Offset),
            ("__x64_sys_ni_syscall", 'T', text + NiSyscallOffset),
            ("sys_ni_syscall", 'T', text + NiSyscallOffset),
            ("linux_banner", 'D', text + BannerOffset),
            ("sys_call_table", 'D', text + SysCallTableOffset),
            ("__start_BTF", 'R', text + BtfOffset),
            ("init_task", 'D', text + InitTaskOffset),
            ("__per_cpu_offset", 'D', text + PerCpuOffsetOffset),
            ("_end", 'B', text + EndOffset),
            ("a_very_long_symbol_name_" + new string('x', 300), 't', text + 0x8000),
        };
    }

    public static byte[] BuildBtf()
    {
        var b = new BtfBuilder();
        var integer = b.Int("int", 4, encoding: 1);
        var character = b.Int("char", 1, encoding: 1);
        var unsigned = b.Int("unsigned int", 4);
        var ulong64 = b.Int("long unsigned int", 8);
        var pidType = b.Typedef("pid_t", integer);
        var listHead = b.Struct("list_head", 16);
        var listPointer = b.Pointer(listHead);

        // list_head must refer to itself: patch by declaring the real one after the pointer.
        var realListHead = b.Struct("list_head", 16, ("next", listPointer, 0, 0), ("prev", listPointer, 64, 0));
        var task = b.Forward("task_struct");
        var taskPointer = b.Pointer(task);
        var mm = b.Forward("mm_struct");
        var mmPointer = b.Pointer(mm);
        var commArray = b.Array(character, integer, 16);
        var inner = b.Struct(string.Empty, 200, ("tasks", realListHead, 192 * 8, 0));
        b.Struct(
            "task_struct",
            TaskSize,
            ("__state", b.Volatile(unsigned), 16 * 8, 0),
            ("in_execve", unsigned, 1000 * 8, 1),
            ("in_iowait", unsigned, (1000 * 8) + 1, 1),
            (string.Empty, inner, 2000 * 8, 0),
            ("mm", mmPointer, TaskMm * 8, 0),
            ("pid", pidType, TaskPid * 8, 0),
            ("tgid", b.Const(pidType), TaskTgid * 8, 0),
            ("real_parent", taskPointer, TaskRealParent * 8, 0),
            ("group_leader", taskPointer, TaskGroupLeader * 8, 0),
            ("comm", commArray, TaskComm * 8, 0));
        b.Struct("pcpu_hot", 64, ("preempt_count", integer, 0, 0), ("current_task", taskPointer, 64, 0));
        var file = b.Forward("file");
        var filePointer = b.Pointer(file);
        var pgd = b.Pointer(ulong64);
        var mmInner = b.Struct(string.Empty, 1000, ("pgd", pgd, 72 * 8, 0), ("exe_file", filePointer, 944 * 8, 0));
        b.Struct("mm_struct", 1100, (string.Empty, mmInner, 0, 0));
        var dentry = b.Forward("dentry");
        var dentryPointer = b.Pointer(dentry);
        var path = b.Struct("path", 16, ("mnt", b.Pointer(0), 0, 0), ("dentry", dentryPointer, 64, 0));
        b.Struct("file", 232, ("f_u", ulong64, 0, 0), ("f_path", path, 16 * 8, 0));
        var hashLen = b.Struct(string.Empty, 8, ("hash", unsigned, 0, 0), ("len", unsigned, 32, 0));
        var hashUnion = b.Union(string.Empty, 8, (string.Empty, hashLen, 0, 0), ("hash_len", ulong64, 0, 0));
        var qstr = b.Struct("qstr", 16, (string.Empty, hashUnion, 0, 0), ("name", b.Pointer(b.Const(character)), 64, 0));
        b.Struct("dentry", 192, ("d_flags", unsigned, 0, 0), ("d_parent", dentryPointer, 24 * 8, 0), ("d_name", qstr, 32 * 8, 0));
        return b.Build();
    }

    public static byte[] MemoryBytes(ArrayGuestMemory memory)
    {
        var bytes = new byte[memory.Size];
        memory.Read(0, bytes);
        return bytes;
    }
}

internal static class SpanCopyExtensions
{
    public static void CopyFrom(this Span<byte> destination, ReadOnlySpan<byte> source) => source.CopyTo(destination);
}
