using System.Globalization;
using Microsoft.Win32.SafeHandles;
using Nitro.Reactive.Memory;

namespace Nitro.Kvm.Memory;

/// <summary>
/// Guest physical memory read through <c>/proc/&lt;qemu-pid&gt;/mem</c>: the fallback when guest
/// RAM is not a shared file (a QEMU started by someone else, with anonymous RAM). Each read is a
/// system call (<c>pread</c>), so it is slower than <see cref="SharedMemoryGuestMemory"/>; it
/// needs permission to trace the QEMU process (root, or the same user with ptrace allowed).
/// </summary>
public sealed class ProcessMemoryGuestMemory : IGuestMemory, IDisposable
{
    private readonly SafeFileHandle _mem;

    /// <summary>Opens the memory of a QEMU process whose RAM lies in one piece from guest address 0.</summary>
    /// <param name="pid">The QEMU process id.</param>
    /// <param name="hostAddress">Where guest physical address 0 is mapped in QEMU (see <see cref="FindRam"/>).</param>
    /// <param name="size">The size of guest RAM in bytes.</param>
    /// <param name="writable">Whether writes are allowed.</param>
    /// <exception cref="UnauthorizedAccessException">This process may not read QEMU's memory.</exception>
    public ProcessMemoryGuestMemory(int pid, ulong hostAddress, ulong size, bool writable = false)
        : this(pid, hostAddress, QemuRamLayout.Flat(size), writable)
    {
    }

    /// <summary>Opens the memory of a QEMU process whose RAM block is laid out in guest memory as <paramref name="layout"/> says.</summary>
    /// <param name="pid">The QEMU process id.</param>
    /// <param name="hostAddress">Where QEMU's RAM block is mapped in its process (see <see cref="FindRam"/>).</param>
    /// <param name="layout">Where each range of guest physical addresses is in the block (<see cref="QemuRamLayout.Parse"/>).</param>
    /// <param name="writable">Whether writes are allowed.</param>
    /// <exception cref="UnauthorizedAccessException">This process may not read QEMU's memory.</exception>
    public ProcessMemoryGuestMemory(int pid, ulong hostAddress, QemuRamLayout layout, bool writable = false)
    {
        ArgumentNullException.ThrowIfNull(layout);
        _mem = File.OpenHandle($"/proc/{pid}/mem", FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read, FileShare.ReadWrite);
        HostAddress = hostAddress;
        Layout = layout;
        RamRanges = [.. layout.Segments.Select(s => new GuestMemoryRange(s.GuestAddress, s.Length))];
        Size = layout.GuestEnd;
        Writable = writable;
        Pid = pid;
    }

    /// <inheritdoc />
    /// <remarks>The first guest physical address after all RAM; with a split layout, some addresses below it are holes.</remarks>
    public ulong Size { get; }

    /// <summary>Gets where guest physical addresses are in QEMU's RAM block.</summary>
    public QemuRamLayout Layout { get; }

    /// <inheritdoc />
    public IReadOnlyList<GuestMemoryRange> RamRanges { get; }

    /// <summary>Gets a value indicating whether writes are allowed.</summary>
    public bool Writable { get; }

    /// <summary>Gets the QEMU process id.</summary>
    public int Pid { get; }

    /// <summary>Gets where QEMU's RAM block (guest physical address 0) is mapped in the QEMU process.</summary>
    public ulong HostAddress { get; }

    /// <summary>
    /// Finds guest RAM in QEMU's address space from <c>/proc/&lt;pid&gt;/maps</c>: the mapping of
    /// <paramref name="memoryPath"/> when RAM is file-backed, else the largest read-write mapping
    /// of exactly <paramref name="size"/> bytes.
    /// </summary>
    /// <param name="pid">The QEMU process id.</param>
    /// <param name="size">Guest RAM size in bytes.</param>
    /// <param name="memoryPath">The RAM backend file, when known.</param>
    /// <returns>The host virtual address of guest physical address 0.</returns>
    /// <exception cref="IOException">No mapping matches.</exception>
    public static ulong FindRam(int pid, ulong size, string? memoryPath = null)
    {
        ulong? bySize = null;
        foreach (var line in File.ReadLines($"/proc/{pid}/maps"))
        {
            // start-end perms offset dev inode [path]
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 5 || !fields[1].StartsWith("rw", StringComparison.Ordinal))
            {
                continue;
            }

            var range = fields[0].Split('-');
            var start = ulong.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var end = ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var path = fields.Length > 5 ? fields[5].Trim() : string.Empty;
            if (memoryPath is not null && string.Equals(path, memoryPath, StringComparison.Ordinal))
            {
                return start;
            }

            if (end - start == size && path.Length == 0)
            {
                bySize ??= start;
            }
        }

        return bySize ?? throw new IOException($"No mapping of {size} bytes (guest RAM) found in /proc/{pid}/maps.");
    }

    /// <inheritdoc />
    public void Read(ulong physicalAddress, Span<byte> destination)
    {
        CheckRange(physicalAddress, destination.Length);
        while (!destination.IsEmpty)
        {
            var chunk = Piece(physicalAddress, destination.Length, out var offset);
            var read = RandomAccess.Read(_mem, destination[..chunk], (long)(HostAddress + offset));
            if (read != chunk)
            {
                throw new GuestMemoryException(physicalAddress + (ulong)read, GuestMemoryFault.OutOfRange, 0,
                    $"Reading guest memory at 0x{physicalAddress:x} through /proc/{Pid}/mem returned {read} of {chunk} bytes (QEMU exited?).");
            }

            destination = destination[chunk..];
            physicalAddress += (ulong)chunk;
        }
    }

    /// <inheritdoc />
    public void Write(ulong physicalAddress, ReadOnlySpan<byte> source)
    {
        if (!Writable)
        {
            throw new NotSupportedException($"Guest memory of QEMU {Pid} was opened read-only; open it writable to change guest memory.");
        }

        CheckRange(physicalAddress, source.Length);
        while (!source.IsEmpty)
        {
            var chunk = Piece(physicalAddress, source.Length, out var offset);
            RandomAccess.Write(_mem, source[..chunk], (long)(HostAddress + offset));
            source = source[chunk..];
            physicalAddress += (ulong)chunk;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _mem.Dispose();

    private void CheckRange(ulong address, int length)
    {
        if (address > Size || (ulong)length > Size - address)
        {
            throw new GuestMemoryException(address, GuestMemoryFault.OutOfRange, 0);
        }
    }

    /// <summary>How many of <paramref name="length"/> bytes at a guest address lie in one piece of RAM, and where that is in the block.</summary>
    private int Piece(ulong physicalAddress, int length, out ulong offset)
    {
        if (!Layout.TryTranslate(physicalAddress, out offset, out var contiguous))
        {
            throw new GuestMemoryException(physicalAddress, GuestMemoryFault.OutOfRange, 0,
                $"Guest physical address 0x{physicalAddress:x} is in a hole between QEMU's RAM ranges (not RAM).");
        }

        return (int)Math.Min((ulong)length, contiguous);
    }
}
