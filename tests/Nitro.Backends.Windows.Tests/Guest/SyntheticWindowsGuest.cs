using System.Buffers.Binary;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text;
using Nitro.Backends.Windows.Images;
using Nitro.Backends.Windows.Profile;
using Nitro.Backends.Windows.Tests.Images;
using Nitro.Reactive.Events;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Windows.Tests.Guest;

/// <summary>
/// A Windows x64 guest built in a byte array from a real symbol table: real 4-level page tables
/// (a kernel root and one per process sharing the kernel half), a kernel image whose PE header and
/// CodeView record name the table's PDB, the kernel's code at the table's symbol addresses
/// (<c>swapgs</c> entries, the exit's <c>swapgs; sysretq</c>), a service table whose entries point
/// at the table's handler symbols, a KPCR/KPRCB per vCPU in <c>KiProcessorBlock</c>, EPROCESSes in
/// <c>PsActiveProcessHead</c> with PEB and process parameters, ETHREADs with TEB, trap frame and a
/// user stack, and Wine's real ntdll.dll / win32u.dll mapped at their image bases.
/// Every structure is written at the offsets the symbol table gives.
/// </summary>
internal sealed class SyntheticWindowsGuest
{
    public const ulong PebAddress = 0x7FF_FFFD_F000;
    public const ulong UserHeap = 0x0000_0000_1000_0000;
    public const ulong UserStacks = 0x0000_0000_0020_0000;
    public const ulong ExitOffset = 21;

    private static readonly byte[] s_entryCode = [0x0f, 0x01, 0xf8, 0x65, 0x48, 0x89, 0x24, 0x25, 0x10, 0x00, 0x00, 0x00];
    private static readonly byte[] s_exitCode =
    [
        0x48, 0x8b, 0x8d, 0xe8, 0x00, 0x00, 0x00, // mov rcx, [rbp+0xe8]
        0x4c, 0x8b, 0x9d, 0xf8, 0x00, 0x00, 0x00, // mov r11, [rbp+0xf8]
        0x48, 0x8b, 0xa5, 0x00, 0x01, 0x00, 0x00, // mov rsp, [rbp+0x100]
        0x0f, 0x01, 0xf8,                         // swapgs
        0x48, 0x0f, 0x07,                         // sysretq
    ];

    private readonly byte[] _ram;
    private readonly IsfSymbolTable _isf;
    private readonly Dictionary<ulong, ulong> _sharedUserPages = [];
    private readonly List<GuestProcess> _processes = [];
    private readonly Dictionary<string, int> _numbers = new(StringComparer.Ordinal);
    private ulong _nextPhysical = 0x10_0000;
    private ulong _nextPool;
    private ulong _win32kTable;

    /// <summary>Builds the guest; every page-table root maps itself through entry <paramref name="selfReferenceIndex"/> (Windows: 0x1ED up to 10 1511, random in 0x100–0x1FF since).</summary>
    /// <param name="isf">The symbol table the guest is laid out by.</param>
    /// <param name="kernelBase">The kernel image base.</param>
    /// <param name="vcpus">The number of processors.</param>
    /// <param name="ramMiB">The size of guest RAM.</param>
    /// <param name="selfReferenceIndex">The self-referencing top-level entry.</param>
    public SyntheticWindowsGuest(IsfSymbolTable isf, ulong kernelBase, int vcpus, int ramMiB = 64, int selfReferenceIndex = 0x1ED)
    {
        _isf = isf;
        _ram = new byte[ramMiB << 20];
        Memory = new ArrayGuestMemory(_ram);
        KernelBase = kernelBase;
        SelfReferenceIndex = selfReferenceIndex;
        KernelRoot = AllocatePage();
        MapSelf(KernelRoot);
        Kernel = new X86AddressSpace(Memory, KernelRoot);
        _nextPool = kernelBase + 0x0200_0000;
        Profile = WindowsKernelProfile.FromSymbolTable(isf);
        Offsets = Profile.Offsets;

        MapKernelImage();
        WriteCode();
        Kpcrs = [.. Enumerable.Range(0, vcpus).Select(_ => KernelAllocate(Size("_KPCR")))];
        for (var i = 0; i < vcpus; i++)
        {
            WriteKernel64(Symbol("KiProcessorBlock") + (ulong)(8 * i), Kpcrs[i] + (ulong)Offsets.KpcrPrcb);
        }

        var head = Symbol("PsActiveProcessHead");
        WriteKernel64(head, head);
        WriteKernel64(head + 8, head);
        Idt = KernelAllocate(0x1000);
        var handler = Symbol(isf.TryGetSymbol("KiDivideErrorFault", out _) ? "KiDivideErrorFault" : "KiSystemCall64");
        var gate = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(gate, (ushort)handler);
        BinaryPrimitives.WriteUInt16LittleEndian(gate.AsSpan(2), 0x10);
        gate[5] = 0x8e;
        BinaryPrimitives.WriteUInt16LittleEndian(gate.AsSpan(6), (ushort)(handler >> 16));
        BinaryPrimitives.WriteUInt32LittleEndian(gate.AsSpan(8), (uint)(handler >> 32));
        WriteKernel(Idt, gate);
        System = AddProcess(4, 0, "System", path: null, commandLine: null, hasPeb: false, root: KernelRoot);
        WriteKernel64(Symbol("PsInitialSystemProcess"), System.Eprocess);
    }

    public int SelfReferenceIndex { get; }

    public ArrayGuestMemory Memory { get; }

    public byte[] Ram => _ram;

    public ulong KernelBase { get; }

    public ulong KernelRoot { get; }

    public X86AddressSpace Kernel { get; }

    public WindowsKernelProfile Profile { get; }

    public WindowsOffsets Offsets { get; }

    public ulong[] Kpcrs { get; }

    public ulong Idt { get; }

    public GuestProcess System { get; }

    public byte[]? Ntdll { get; private set; }

    public ulong NtdllBase { get; private set; }

    public byte[]? Win32u { get; private set; }

    public ulong Win32uBase { get; private set; }

    public WindowsKernelImage Image => new(KernelBase, KernelRoot);

    public ulong EntryAddress => Symbol("KiSystemCall64");

    public ulong ExitAddress => Symbol("KiSystemServiceExit") + ExitOffset;

    /// <summary>Gets the exit's swapgs in KiKernelSysretExit (the KVA-shadow exit; both tables have the symbol).</summary>
    public ulong ShadowExitAddress => Symbol("KiKernelSysretExit") + ExitOffset;

    /// <summary>The special registers of kernel mode on vCPU <paramref name="vcpu"/> (GS base = its KPCR).</summary>
    public SpecialRegisters KernelRegisters(int vcpu = 0, ulong? cr3 = null)
    {
        var s = default(SpecialRegisters);
        s.Cr3 = cr3 ?? KernelRoot;
        s.Gs.Base = Kpcrs[vcpu];
        s.Idt.Base = Idt;
        s.Idt.Limit = 0xfff;
        return s;
    }

    public ulong Symbol(string name) => _isf.TryGetSymbol(name, out var rva) ? KernelBase + rva : throw new InvalidOperationException($"no {name} in the table");

    public int Field(string type, string field) => _isf.TryGetFieldOffset(type, field, out var offset) ? offset : throw new InvalidOperationException($"no {type}.{field}");

    public int NumberOf(string name) => _numbers[name];

    /// <summary>Fills the nt service table: entry <c>number</c> points at the table's symbol of that name.</summary>
    public void WriteServiceTable(IEnumerable<(string Name, int Number)> calls, IReadOnlyDictionary<string, int>? stackArguments = null, IReadOnlySet<string>? nopHandlers = null)
    {
        var table = Symbol("KiServiceTable");
        var limit = 0;
        foreach (var (name, number) in calls)
        {
            if (!_isf.TryGetSymbol(name, out var rva))
            {
                continue;
            }

            _numbers[name] = number;
            var handler = KernelBase + rva;
            var stack = stackArguments is not null && stackArguments.TryGetValue(name, out var s) ? s : 0;
            WriteKernel32(table + (ulong)(4 * number), (uint)((int)((long)(handler - table) << 4) | stack));
            WriteKernel(handler, nopHandlers is not null && nopHandlers.Contains(name) ? [0x0f, 0x1f, 0x44, 0x00, 0x00, 0x48, 0x83, 0xec, 0x38] : [0x48, 0x83, 0xec, 0x38, 0x90]);
            limit = Math.Max(limit, number + 1);
        }

        var descriptor = Symbol("KeServiceDescriptorTable");
        WriteKernel64(descriptor, table);
        WriteKernel64(descriptor + 0x10, (ulong)limit);
        var shadow = Symbol("KeServiceDescriptorTableShadow");
        WriteKernel64(shadow, table);
        WriteKernel64(shadow + 0x10, (ulong)limit);
    }

    /// <summary>Fills the win32k table (in the shadow descriptor) with <paramref name="count"/> handlers that have no symbols.</summary>
    public void WriteWin32kTable(int count)
    {
        _win32kTable = KernelAllocate(4 * count + 0x100);
        for (var i = 0; i < count; i++)
        {
            WriteKernel32(_win32kTable + (ulong)(4 * i), (uint)((0x100 + (16 * i)) << 4));
        }

        var shadow = Symbol("KeServiceDescriptorTableShadow");
        WriteKernel64(shadow + 0x20, _win32kTable);
        WriteKernel64(shadow + 0x30, (ulong)count);
    }

    /// <summary>Overwrites the stack-argument nibble of one nt table entry (a hostile table).</summary>
    public void SetStackArguments(int number, int nibble)
    {
        var at = Symbol("KiServiceTable") + (ulong)(4 * number);
        WriteKernel32(at, (Kernel.ReadUInt32(at) & ~0xFu) | (uint)(nibble & 0xF));
    }

    /// <summary>Maps Wine's real DLLs (file bytes) at their image bases in every process created afterwards.</summary>
    public void MapWine(byte[] ntdll, byte[]? win32u = null)
    {
        Ntdll = ntdll;
        NtdllBase = PeImageMapper.ImageBase(ntdll);
        Win32u = win32u;
        Win32uBase = win32u is null ? 0 : PeImageMapper.ImageBase(win32u);
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "MA0051:Method is too long", Justification = "One EPROCESS, field by field.")]
    public GuestProcess AddProcess(int pid, int parentPid, string name, string? path, string? commandLine, bool hasPeb = true, bool wow64 = false, DateTime? created = null, ulong? root = null)
    {
        var o = Offsets;
        if (root is null)
        {
            root = AllocatePage();
            _ram.AsSpan((int)KernelRoot + 0x800, 0x800).CopyTo(_ram.AsSpan((int)root + 0x800, 0x800));
            MapSelf(root.Value);
        }

        var process = new GuestProcess(this, pid, name, root.Value, KernelAllocate(Size("_EPROCESS")));
        var e = process.Eprocess;
        WriteKernel64(e + (ulong)o.KprocessDirectoryTableBase, root.Value);
        WriteKernel64(e + (ulong)o.EprocessUniqueProcessId, (ulong)pid);
        WriteKernel64(e + (ulong)o.EprocessInheritedFromUniqueProcessId, (ulong)parentPid);
        var image = new byte[15];
        Encoding.ASCII.GetBytes(name.Length > 14 ? name[..14] : name).CopyTo(image, 0);
        WriteKernel(e + (ulong)o.EprocessImageFileName, image);
        WriteKernel64(e + (ulong)o.EprocessCreateTime, (ulong)(created ?? new DateTime(2026, 12, 3, 10, 0, 0, DateTimeKind.Utc)).ToFileTimeUtc());
        if (wow64)
        {
            WriteKernel64(e + (ulong)o.EprocessWow64Process, KernelAllocate(0x10));
        }

        if (path is not null)
        {
            var info = KernelAllocate(16 + (2 * path.Length) + 2);
            WriteKernelUnicodeString(info, info + 16, path);
            WriteKernel64(e + (ulong)o.EprocessSeAuditProcessCreationInfo, info);
        }

        // Insert at the tail of PsActiveProcessHead.
        var head = Symbol("PsActiveProcessHead");
        var links = e + (ulong)o.EprocessActiveProcessLinks;
        var last = Kernel.ReadUInt64(head + 8);
        WriteKernel64(links, head);
        WriteKernel64(links + 8, last);
        WriteKernel64(last, links);
        WriteKernel64(head + 8, links);

        if (Ntdll is not null)
        {
            MapShared(process, NtdllBase, PeImageMapper.Map(Ntdll));
        }

        if (Win32u is not null)
        {
            MapShared(process, Win32uBase, PeImageMapper.Map(Win32u));
        }

        if (hasPeb)
        {
            WriteKernel64(e + (ulong)o.EprocessPeb, PebAddress);
            process.Map(PebAddress, 0x1000);
            var parameters = process.Allocate(0x400);
            process.Write64(PebAddress + (ulong)o.PebProcessParameters, parameters);
            if (path is not null)
            {
                process.WriteUnicodeString(parameters + (ulong)o.ParametersImagePathName, path);
            }

            if (commandLine is not null)
            {
                process.WriteUnicodeString(parameters + (ulong)o.ParametersCommandLine, commandLine);
            }
        }

        _processes.Add(process);
        return process;
    }

    public GuestThread AddThread(GuestProcess process, int tid)
    {
        var o = Offsets;
        var thread = new GuestThread(process, tid, KernelAllocate(Size("_ETHREAD")), KernelAllocate(0x190));
        var t = thread.Ethread;
        WriteKernel64(t + (ulong)o.KthreadApcStateProcess, process.Eprocess);
        WriteKernel64(t + (ulong)o.EthreadCid, (ulong)process.Pid);
        WriteKernel64(t + (ulong)o.EthreadCid + 8, (ulong)tid);
        WriteKernel64(t + (ulong)o.KthreadTrapFrame!.Value, thread.TrapFrame);
        thread.Teb = 0x7FF_FFFD_0000 - ((ulong)process.Threads * 0x2000);
        thread.StackTop = UserStacks + ((ulong)(process.Threads + 1) * 0x10000);
        process.Threads++;
        WriteKernel64(t + (ulong)o.KthreadTeb, thread.Teb);
        process.Map(thread.Teb, 0x1000);
        process.Write64(thread.Teb + 0x30, thread.Teb);
        process.Write64(thread.Teb + 0x40, (ulong)process.Pid);
        process.Write64(thread.Teb + 0x48, (ulong)tid);
        process.Map(thread.StackTop - 0x4000, 0x4000);
        return thread;
    }

    /// <summary>Makes <paramref name="thread"/> the one vCPU <paramref name="vcpu"/> runs (KPRCB.CurrentThread).</summary>
    public void Run(int vcpu, GuestThread thread) =>
        WriteKernel64(Kpcrs[vcpu] + (ulong)(Offsets.KpcrPrcb + Offsets.KprcbCurrentThread), thread.Ethread);

    /// <summary>
    /// The trap at KiSystemCall64's swapgs for a call from ntdll: user registers (R10, RDX, R8, R9,
    /// stack arguments at RSP + 0x28), user GS (the TEB), the process's CR3. Also fills the thread's
    /// trap frame as the kernel would once it has saved the user registers.
    /// </summary>
    public NitroEvent Enter(int vcpu, GuestThread thread, int number, ulong[] arguments, VcpuHandle? handle = null, ulong? returnAddress = null, long timestamp = 1000, ulong? rip = null)
    {
        Run(vcpu, thread);
        var process = thread.Process;
        var rsp = thread.StackTop - 0x200;
        for (var i = 4; i < arguments.Length; i++)
        {
            process.Write64(rsp + 0x28 + (ulong)(8 * (i - 4)), arguments[i]);
        }

        var r = default(Registers);
        r.Rax = (ulong)number;
        r.R10 = Argument(arguments, 0);
        r.Rdx = Argument(arguments, 1);
        r.R8 = Argument(arguments, 2);
        r.R9 = Argument(arguments, 3);
        r.Rcx = returnAddress ?? 0x7FF0_0000_1234;
        r.R11 = 0x246;
        r.Rsp = rsp;
        r.Rip = rip ?? EntryAddress;
        r.Rflags = 0x246;
        WriteTrapFrame(thread, in r);
        WriteKernel32(thread.Ethread + (ulong)Offsets.KthreadSystemCallNumber!.Value, (uint)number);
        WriteKernel64(thread.Ethread + (ulong)Offsets.KthreadFirstArgument!.Value, r.R10);
        var s = KernelRegisters(vcpu, process.Root);
        s.Gs.Base = thread.Teb;
        return new NitroEvent(vcpu, SyscallDirection.Enter, SyscallMechanism.Syscall, in r, in s, timestamp, handle);
    }

    /// <summary>
    /// The trap at a handler's first instruction: kernel GS, kernel registers, the call's first four
    /// arguments in RCX, RDX, R8, R9 as for any x64 function; the user's RIP, RSP and flags are in the trap frame.
    /// </summary>
    public NitroEvent AtHandler(int vcpu, GuestThread thread, string name, long timestamp = 1000, ulong[]? arguments = null)
    {
        Run(vcpu, thread);
        var r = default(Registers);
        r.Rip = Symbol(name);
        r.Rcx = Argument(arguments, 0);
        r.Rdx = Argument(arguments, 1);
        r.R8 = Argument(arguments, 2);
        r.R9 = Argument(arguments, 3);
        r.Rsp = KernelBase + 0x0100_0000;
        var s = KernelRegisters(vcpu, thread.Process.Root);
        return new NitroEvent(vcpu, SyscallDirection.Enter, SyscallMechanism.Syscall, in r, in s, timestamp);
    }

    private static ulong Argument(ulong[]? arguments, int index) => arguments is not null && index < arguments.Length ? arguments[index] : 0;

    /// <summary>The trap at the swapgs before sysretq: RAX holds the status, GS is still the kernel's.</summary>
    public NitroEvent Exit(int vcpu, GuestThread thread, ulong status, VcpuHandle? handle = null, long timestamp = 5000, ulong? rip = null)
    {
        Run(vcpu, thread);
        var r = default(Registers);
        r.Rax = status;
        r.Rip = rip ?? ExitAddress;
        r.Rsp = KernelBase + 0x0100_0000;
        var s = KernelRegisters(vcpu, thread.Process.Root);
        return new NitroEvent(vcpu, SyscallDirection.Exit, SyscallMechanism.Syscall, in r, in s, timestamp, handle);
    }

    /// <summary>The return address right after the <c>syscall</c> of ntdll's stub for <paramref name="name"/> (Wine's stub layout).</summary>
    public ulong StubReturn(string name, bool win32u = false)
    {
        var stub = SyscallStubReader.Read(new MemoryStream((win32u ? Win32u : Ntdll)!), isLoadedImage: false).Single(s => s.Name == name);
        return (win32u ? Win32uBase : NtdllBase) + stub.Rva + 0x14;
    }

    /// <summary>
    /// Overwrites the frame's RAX, RCX, RDX, R8, R9 and R10 slots with values of no call: a real
    /// entry saves those registers only for a thread being debugged, so the slots hold whatever was there.
    /// </summary>
    public void StaleArgumentSlots(GuestThread thread)
    {
        var t = Offsets.TrapFrame;
        foreach (var slot in new[] { t.Rax, t.Rcx, t.Rdx, t.R8, t.R9, t.R10 })
        {
            WriteKernel64(thread.TrapFrame + (ulong)slot, 0xDEAD_0000_0000_0000UL + (uint)slot);
        }
    }

    public void WriteTrapFrame(GuestThread thread, in Registers r)
    {
        var t = Offsets.TrapFrame;
        var f = thread.TrapFrame;
        WriteKernel64(f + (ulong)t.Rax, r.Rax);
        WriteKernel64(f + (ulong)t.Rcx, r.Rcx);
        WriteKernel64(f + (ulong)t.Rdx, r.Rdx);
        WriteKernel64(f + (ulong)t.R8, r.R8);
        WriteKernel64(f + (ulong)t.R9, r.R9);
        WriteKernel64(f + (ulong)t.R10, r.R10);
        WriteKernel64(f + (ulong)t.R11, r.R11);
        WriteKernel64(f + (ulong)t.Rip, r.Rcx);
        WriteKernel64(f + (ulong)t.Rsp, r.Rsp);
        WriteKernel64(f + (ulong)t.EFlags, r.R11);
    }

    public ulong KernelAllocate(int size)
    {
        var at = _nextPool;
        _nextPool += ((ulong)size + 0xFFF) & ~0xFFFUL;
        EnsureMapped(KernelRoot, at, size);
        return at;
    }

    public void WriteKernel(ulong address, ReadOnlySpan<byte> bytes)
    {
        EnsureMapped(KernelRoot, address, bytes.Length);
        Kernel.Write(address, bytes);
    }

    public void WriteKernel64(ulong address, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        WriteKernel(address, bytes);
    }

    public void WriteKernel32(ulong address, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        WriteKernel(address, bytes);
    }

    /// <summary>Unmaps a page of a page-table root (its PTE cleared).</summary>
    public void Unmap(ulong root, ulong address)
    {
        var table = root;
        for (var shift = 39; shift > 12; shift -= 9)
        {
            var entry = BinaryPrimitives.ReadUInt64LittleEndian(_ram.AsSpan((int)(table + (((address >> shift) & 0x1FF) * 8))));
            if ((entry & 1) == 0)
            {
                return;
            }

            table = entry & 0x000F_FFFF_FFFF_F000;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(_ram.AsSpan((int)(table + (((address >> 12) & 0x1FF) * 8))), 0);
    }

    /// <summary>The self-reference of a root as Windows writes it: present, writable, accessed, dirty, supervisor, no-execute.</summary>
    internal void MapSelf(ulong root) =>
        BinaryPrimitives.WriteUInt64LittleEndian(_ram.AsSpan((int)root + (SelfReferenceIndex * 8)), root | 0x63 | (1UL << 63));

    internal ulong AllocatePage()
    {
        var page = _nextPhysical;
        _nextPhysical += 0x1000;
        if (_nextPhysical > (ulong)_ram.Length)
        {
            throw new InvalidOperationException("The synthetic guest is out of RAM.");
        }

        return page;
    }

    internal void EnsureMapped(ulong root, ulong address, int length)
    {
        for (var page = address & ~0xFFFUL; page < address + (ulong)Math.Max(length, 1); page += 0x1000)
        {
            Map(root, page, null);
        }
    }

    /// <summary>Maps one page (to <paramref name="frame"/>, or a new zeroed frame when not yet mapped).</summary>
    internal void Map(ulong root, ulong page, ulong? frame)
    {
        var table = root;
        for (var shift = 39; shift > 12; shift -= 9)
        {
            var slot = (int)(table + (((page >> shift) & 0x1FF) * 8));
            var entry = BinaryPrimitives.ReadUInt64LittleEndian(_ram.AsSpan(slot));
            if ((entry & 1) == 0)
            {
                entry = AllocatePage() | 0x7;
                BinaryPrimitives.WriteUInt64LittleEndian(_ram.AsSpan(slot), entry);
            }

            table = entry & 0x000F_FFFF_FFFF_F000;
        }

        var pte = (int)(table + (((page >> 12) & 0x1FF) * 8));
        var existing = BinaryPrimitives.ReadUInt64LittleEndian(_ram.AsSpan(pte));
        if (frame is null && (existing & 1) != 0)
        {
            return;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(_ram.AsSpan(pte), (frame ?? AllocatePage()) | 0x7);
    }

    private void MapShared(GuestProcess process, ulong imageBase, byte[] image)
    {
        for (var offset = 0; offset < image.Length; offset += 0x1000)
        {
            var va = imageBase + (ulong)offset;
            if (!_sharedUserPages.TryGetValue(va, out var frame))
            {
                frame = AllocatePage();
                image.AsSpan(offset, Math.Min(0x1000, image.Length - offset)).CopyTo(_ram.AsSpan((int)frame));
                _sharedUserPages[va] = frame;
            }

            Map(process.Root, va, frame);
        }
    }

    private int Size(string type) => _isf.TryGetTypeSize(type, out var size) ? size : throw new InvalidOperationException($"no size of {type}");

    private void WriteKernelUnicodeString(ulong at, ulong buffer, string text)
    {
        var bytes = Encoding.Unicode.GetBytes(text);
        var header = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)bytes.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), (ushort)(bytes.Length + 2));
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), buffer);
        WriteKernel(at, header);
        WriteKernel(buffer, [.. bytes, 0, 0]);
    }

    /// <summary>A kernel image header made by the framework's PE writer, with the table's PDB in its CodeView record, mapped at the kernel base.</summary>
    private void MapKernelImage()
    {
        var metadata = new MetadataBuilder();
        metadata.AddModule(0, metadata.GetOrAddString("ntoskrnl.exe"), metadata.GetOrAddGuid(Guid.NewGuid()), default, default);
        metadata.AddTypeDefinition(default, default, metadata.GetOrAddString("<Module>"), default, MetadataTokens.FieldDefinitionHandle(1), MetadataTokens.MethodDefinitionHandle(1));
        var header = new PEHeaderBuilder(machine: Machine.Amd64, sectionAlignment: 0x1000, fileAlignment: 0x200, imageBase: KernelBase, subsystem: Subsystem.Native, imageCharacteristics: Characteristics.ExecutableImage | Characteristics.LargeAddressAware);
        var debug = new DebugDirectoryBuilder();
        debug.AddCodeViewEntry(@"c:\symbols\" + (_isf.PdbName ?? "ntkrnlmp.pdb"), new BlobContentId(Guid.ParseExact(_isf.Guid!, "N"), 0x5a5a5a5a), portablePdbVersion: 0, age: _isf.Age);
        var builder = new ManagedPEBuilder(header, new MetadataRootBuilder(metadata), new BlobBuilder(), debugDirectoryBuilder: debug);
        var blob = new BlobBuilder();
        builder.Serialize(blob);
        var image = PeImageMapper.Map(blob.ToArray());
        WriteKernel(KernelBase, image);
    }

    private void WriteCode()
    {
        WriteKernel(Symbol("KiSystemCall64"), s_entryCode);
        WriteKernel(Symbol("KiSystemCall64Shadow"), s_entryCode);
        WriteKernel(Symbol("KiSystemServiceExit"), s_exitCode);
        WriteKernel(Symbol("KiKernelSysretExit"), s_exitCode);
    }
}

/// <summary>A process of the synthetic guest: its EPROCESS, page-table root and user memory.</summary>
internal sealed class GuestProcess
{
    private readonly SyntheticWindowsGuest _guest;
    private ulong _nextHeap = SyntheticWindowsGuest.UserHeap;

    public GuestProcess(SyntheticWindowsGuest guest, int pid, string name, ulong root, ulong eprocess)
    {
        _guest = guest;
        Pid = pid;
        Name = name;
        Root = root;
        Eprocess = eprocess;
        Space = new X86AddressSpace(guest.Memory, root);
    }

    public int Pid { get; }

    public string Name { get; }

    public ulong Root { get; }

    public ulong Eprocess { get; }

    public X86AddressSpace Space { get; }

    public int Threads { get; set; }

    public void Map(ulong address, int length) => _guest.EnsureMapped(Root, address, length);

    public ulong Allocate(int size)
    {
        var at = _nextHeap;
        _nextHeap += ((ulong)size + 0xF) & ~0xFUL;
        Map(at, size);
        return at;
    }

    public void Write(ulong address, ReadOnlySpan<byte> bytes)
    {
        Map(address, bytes.Length);
        Space.Write(address, bytes);
    }

    public void Write64(ulong address, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        Write(address, bytes);
    }

    public ulong WriteBytes(byte[] bytes)
    {
        var at = Allocate(bytes.Length);
        Write(at, bytes);
        return at;
    }

    /// <summary>Writes a UNICODE_STRING at <paramref name="at"/> whose buffer is allocated on the heap.</summary>
    public void WriteUnicodeString(ulong at, string text, ushort? length = null, ushort? maximum = null)
    {
        var bytes = Encoding.Unicode.GetBytes(text);
        var buffer = WriteBytes([.. bytes, 0, 0]);
        var header = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(header, length ?? (ushort)bytes.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), maximum ?? (ushort)(bytes.Length + 2));
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), buffer);
        Write(at, header);
    }

    public ulong UnicodeString(string text, ushort? length = null, ushort? maximum = null)
    {
        var at = Allocate(16);
        WriteUnicodeString(at, text, length, maximum);
        return at;
    }

    /// <summary>An OBJECT_ATTRIBUTES (0x30 bytes) naming <paramref name="name"/>, relative to <paramref name="root"/> when non-zero.</summary>
    public ulong ObjectAttributes(string name, ulong root = 0)
    {
        var at = Allocate(0x30);
        var bytes = new byte[0x30];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, 0x30);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), root);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(0x10), UnicodeString(name));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(0x18), 0x40);
        Write(at, bytes);
        return at;
    }

    public ulong Read64(ulong address) => Space.ReadUInt64(address);
}

/// <summary>A thread of the synthetic guest.</summary>
internal sealed class GuestThread
{
    public GuestThread(GuestProcess process, int tid, ulong ethread, ulong trapFrame)
    {
        Process = process;
        Tid = tid;
        Ethread = ethread;
        TrapFrame = trapFrame;
    }

    public GuestProcess Process { get; }

    public int Tid { get; }

    public ulong Ethread { get; }

    public ulong TrapFrame { get; }

    public ulong Teb { get; set; }

    public ulong StackTop { get; set; }
}
