using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using Nitro.Reactive.Listening;

namespace Nitro.Kvm.Plugin;

/// <summary>
/// The trap plugin's control file mapped into this process (layout: <see cref="PluginProtocol"/>).
/// Words shared with the plugin are read and written with volatile or interlocked operations.
/// </summary>
internal sealed unsafe class PluginControlFile : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _length;
    private int _disposed;

    private PluginControlFile(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, long length)
    {
        Path = path;
        _file = file;
        _view = view;
        _length = length;
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + _view.PointerOffset;
    }

    public string Path { get; }

    public int VcpuCount => (int)U32(PluginProtocol.Header.VcpuCount);

    public int PluginPid => (int)U32(PluginProtocol.Header.PluginPid);

    public bool PluginExited => Volatile.Read(ref U32(PluginProtocol.Header.State)) == PluginProtocol.StateExited;

    /// <summary>Gets a value indicating whether the plugin maps a RAM file of its own (<c>ram=</c>), rather than reading RAM where the host says it is.</summary>
    public bool PluginHasRamFile => U32(PluginProtocol.Header.RamFile) != 0;

    /// <summary>Maps the control file once the plugin has created and initialized it.</summary>
    /// <exception cref="TrapPluginException">The file is not a control file of this protocol version, or one a QEMU that is gone left behind.</exception>
    public static PluginControlFile Open(string path)
    {
        var length = new FileInfo(path).Length;
        if (length < PluginProtocol.HeaderSize + PluginProtocol.VcpuSize)
        {
            throw new TrapPluginException($"{path} is {length} bytes, too small for a trap plugin control file.");
        }

        var file = MemoryMappedFile.CreateFromFile(
            new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite),
            mapName: null,
            capacity: 0,
            MemoryMappedFileAccess.ReadWrite,
            HandleInheritability.None,
            leaveOpen: false);
        PluginControlFile? control = null;
        try
        {
            control = new PluginControlFile(path, file, file.CreateViewAccessor(0, length, MemoryMappedFileAccess.ReadWrite), length);
            control.Validate();
            return control;
        }
        catch
        {
            if (control is not null)
            {
                control.Dispose();
            }
            else
            {
                file.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// Tells a plugin without a RAM file where guest RAM is in its own process and how guest physical
    /// addresses lie in it (before attaching; the size last, since the plugin reads it first).
    /// </summary>
    /// <exception cref="TrapPluginException">The layout has more ranges than the protocol carries.</exception>
    public void PublishRamLocation(ulong hostAddress, Memory.QemuRamLayout layout)
    {
        if (layout.Segments.Count > PluginProtocol.MaxRamSegments)
        {
            throw new TrapPluginException($"Guest RAM lies in {layout.Segments.Count} ranges; the trap plugin takes at most {PluginProtocol.MaxRamSegments}.");
        }

        var segments = layout.IsFlat ? [] : layout.Segments;
        for (var i = 0; i < segments.Count; i++)
        {
            var at = PluginProtocol.Header.RamSegments + (i * PluginProtocol.RamSegment.Size);
            U64(at + PluginProtocol.RamSegment.Guest) = segments[i].GuestAddress;
            U64(at + PluginProtocol.RamSegment.Length) = segments[i].Length;
            U64(at + PluginProtocol.RamSegment.Offset) = segments[i].RamOffset;
        }

        Volatile.Write(ref U32(PluginProtocol.Header.RamSegmentCount), (uint)segments.Count);
        Volatile.Write(ref U64(PluginProtocol.Header.RamAddress), hostAddress);
        Volatile.Write(ref U64(PluginProtocol.Header.RamSize), layout.RamSize);
    }

    public ref uint U32(int offset) => ref Unsafe.AsRef<uint>(Checked(offset, 4));

    public ref ulong U64(int offset) => ref Unsafe.AsRef<ulong>(Checked(offset, 8));

    public uint* U32Pointer(int offset) => (uint*)Checked(offset, 4);

    public static int VcpuOffset(int vcpu, int field) => PluginProtocol.HeaderSize + (vcpu * PluginProtocol.VcpuSize) + field;

    public static int RecordOffset(int vcpu, uint slot, int field) =>
        VcpuOffset(vcpu, PluginProtocol.Vcpu.Ring) + (int)(slot % PluginProtocol.RingSlots * PluginProtocol.RecordSize) + field;

    public ReadOnlySpan<byte> Bytes(int offset, int length) => new(Checked(offset, length), length);

    /// <summary>
    /// Publishes a plan under the plan seqlock (odd while writing) and sets the requested-number
    /// bitmaps; the plugin takes it at its next callback on a vCPU thread.
    /// </summary>
    public uint WritePlan(TrapPlan plan, SavedFrameLocator frames)
    {
        var points = plan.EntryPoints.Select(p => (Point: p, Kind: PluginProtocol.PointEntry))
            .Concat(plan.ExitPoints.Select(p => (Point: p, Kind: PluginProtocol.PointExit)))
            .ToArray();
        ref var generation = ref U32(PluginProtocol.Header.PlanGeneration);
        var start = Volatile.Read(ref generation);
        var writing = (start | 1) == start ? start + 2 : start + 1; // odd
        Volatile.Write(ref generation, writing);
        Interlocked.MemoryBarrier();

        const int Plan = PluginProtocol.Header.Plan;
        U32(Plan + PluginProtocol.Plan.PointCount) = (uint)points.Length;
        U32(Plan + PluginProtocol.Plan.FilterEnabled) = plan.SyscallNumbers is null && plan.CompatSyscallNumbers is null ? 0u : 1u;
        U64(Plan + PluginProtocol.Plan.KernelRoot) = frames.KernelPageTableRoot;
        U64(Plan + PluginProtocol.Plan.PerVcpuTable) = frames.PerVcpuTable;
        U32(Plan + PluginProtocol.Plan.EntryNumberOffset) = (uint)frames.Layout.EntryRaxOffset;
        U32(Plan + PluginProtocol.Plan.ExitNumberOffset) = (uint)Math.Max(frames.Layout.ExitNumberOffset, frames.Layout.EntryRaxOffset);
        U64(Plan + PluginProtocol.Plan.NumberMask) = frames.Layout.NumberMask;
        U32(Plan + PluginProtocol.Plan.FrameSize) = (uint)frames.Layout.Size;
        WritePath(Plan + PluginProtocol.Plan.Frame, frames.Frame);
        WritePath(Plan + PluginProtocol.Plan.Task, frames.Task);
        for (var i = 0; i < points.Length; i++)
        {
            var at = Plan + PluginProtocol.Plan.Points + (i * PluginProtocol.Plan.PointSize);
            U64(at + PluginProtocol.Plan.PointAddress) = points[i].Point.Address;
            U32(at + PluginProtocol.Plan.PointKind) = (uint)points[i].Kind;
            U32(at + PluginProtocol.Plan.PointFilterSet) = (uint)points[i].Point.FilterSet;
        }

        WriteFilter(0, plan.SyscallNumbers);
        WriteFilter(1, plan.CompatSyscallNumbers);
        Interlocked.MemoryBarrier();
        Volatile.Write(ref generation, writing + 1);
        Interop.Futex.Wake(U32Pointer(PluginProtocol.Header.PlanGeneration));
        return writing + 1;
    }

    private void Validate()
    {
        var magic = Volatile.Read(ref U32(PluginProtocol.Header.Magic));
        if (magic != PluginProtocol.Magic)
        {
            throw new TrapPluginException($"{Path} is not a trap plugin control file (magic 0x{magic:x8}), or the plugin has not initialized it yet.");
        }

        var version = U32(PluginProtocol.Header.Version);
        var headerSize = U32(PluginProtocol.Header.HeaderSize);
        var vcpuSize = U32(PluginProtocol.Header.VcpuSize);
        var maxVcpus = U32(PluginProtocol.Header.MaxVcpus);
        if (version != PluginProtocol.Version || headerSize != PluginProtocol.HeaderSize || vcpuSize != PluginProtocol.VcpuSize)
        {
            throw new TrapPluginException(
                $"{Path} speaks trap plugin protocol {version} (header {headerSize} B, vCPU area {vcpuSize} B); this SDK speaks {PluginProtocol.Version} " +
                $"({PluginProtocol.HeaderSize} B, {PluginProtocol.VcpuSize} B). Start QEMU with the plugin TrapPlugin.EnsureBuilt() gives.");
        }

        if (maxVcpus is 0 or > PluginProtocol.MaxVcpus || _length < PluginProtocol.HeaderSize + ((long)maxVcpus * PluginProtocol.VcpuSize)
            || VcpuCount is <= 0 || VcpuCount > maxVcpus)
        {
            throw new TrapPluginException($"{Path} describes {VcpuCount} of {maxVcpus} vCPUs in {_length} bytes: the file is damaged.");
        }

        if (PluginExited || !ProcessExists(PluginPid))
        {
            throw new TrapPluginException($"{Path} was left behind by QEMU process {PluginPid}, which is gone; a QEMU started with this ctl= replaces it.");
        }
    }

    private static bool ProcessExists(int pid) => pid > 0 && Directory.Exists($"/proc/{pid}");

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    private void WritePath(int at, GuestPointerPath path)
    {
        for (var i = 0; i < PluginProtocol.MaxPath; i++)
        {
            U64(at + PluginProtocol.Plan.PathOffsets + (i * 8)) = i < path.Offsets.Count ? (ulong)path.Offsets[i] : 0;
        }

        U32(at + PluginProtocol.Plan.PathCount) = (uint)path.Offsets.Count;
        U64(at + PluginProtocol.Plan.PathFinal) = (ulong)path.Final;
    }

    private void WriteFilter(int set, IReadOnlyList<long>? numbers)
    {
        var at = PluginProtocol.Header.Filter + (set * (PluginProtocol.FilterBits / 8));
        var words = new ulong[PluginProtocol.FilterBits / 64];
        foreach (var number in numbers ?? [])
        {
            if (number is < 0 or >= PluginProtocol.FilterBits)
            {
                throw new ArgumentOutOfRangeException(nameof(numbers), number, $"The trap plugin filters call numbers 0 to {PluginProtocol.FilterBits - 1}.");
            }

            words[number >> 6] |= 1UL << (int)(number & 63);
        }

        for (var i = 0; i < words.Length; i++)
        {
            Volatile.Write(ref U64(at + (i * 8)), words[i]);
        }
    }

    private byte* Checked(int offset, int length)
    {
        // Reading an unmapped view would crash the process, not throw.
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (offset < 0 || offset > _length - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"Outside the {_length}-byte control file.");
        }

        return _base + offset;
    }
}
