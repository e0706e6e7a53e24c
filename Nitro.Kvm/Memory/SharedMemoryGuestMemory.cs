using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using Nitro.Reactive.Memory;

namespace Nitro.Kvm.Memory;

/// <summary>
/// Guest physical memory read straight from QEMU's <c>memory-backend-file</c> (a file on
/// <c>/dev/shm</c> shared with the running guest), mapped into this process: reads are memory
/// copies, with no system call and no QEMU round trip. File offset = guest physical address for
/// the low RAM range (guests up to 3 GiB on the <c>pc</c> machine).
/// </summary>
public sealed unsafe class SharedMemoryGuestMemory : IGuestMemory, IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private int _disposed;

    /// <summary>Maps the guest memory file.</summary>
    /// <param name="path">The <c>mem-path</c> of the memory backend.</param>
    /// <param name="writable">Whether writes to guest memory are allowed.</param>
    /// <exception cref="IOException">The file cannot be opened or mapped.</exception>
    public SharedMemoryGuestMemory(string path, bool writable = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var length = new FileInfo(path).Length;
        if (length == 0)
        {
            throw new IOException($"Guest memory file {path} is empty: is QEMU running with share=on?");
        }

        var access = writable ? MemoryMappedFileAccess.ReadWrite : MemoryMappedFileAccess.Read;
        _file = MemoryMappedFile.CreateFromFile(
            new FileStream(path, FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read, FileShare.ReadWrite),
            mapName: null,
            capacity: 0,
            access,
            HandleInheritability.None,
            leaveOpen: false);
        _view = _file.CreateViewAccessor(0, length, access);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + _view.PointerOffset;
        Size = (ulong)length;
        Writable = writable;
        Path = path;
    }

    /// <inheritdoc />
    public ulong Size { get; }

    /// <summary>Gets a value indicating whether writes are allowed.</summary>
    public bool Writable { get; }

    /// <summary>Gets the mapped file's path.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public void Read(ulong physicalAddress, Span<byte> destination)
    {
        CheckRange(physicalAddress, destination.Length);
        new ReadOnlySpan<byte>(_base + physicalAddress, destination.Length).CopyTo(destination);
    }

    /// <inheritdoc />
    public void Write(ulong physicalAddress, ReadOnlySpan<byte> source)
    {
        if (!Writable)
        {
            throw new NotSupportedException($"Guest memory {Path} was opened read-only; open it writable to change guest memory.");
        }

        CheckRange(physicalAddress, source.Length);
        source.CopyTo(new Span<byte>(_base + physicalAddress, source.Length));
    }

    /// <summary>Reads one little-endian 64-bit value (the page-table walker's hot path).</summary>
    /// <param name="physicalAddress">The guest physical address.</param>
    /// <returns>The value.</returns>
    public ulong ReadUInt64(ulong physicalAddress)
    {
        CheckRange(physicalAddress, 8);
        return Unsafe.ReadUnaligned<ulong>(_base + physicalAddress);
    }

    /// <inheritdoc />
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

    private void CheckRange(ulong address, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (address > Size || (ulong)length > Size - address)
        {
            throw new GuestMemoryException(address, GuestMemoryFault.OutOfRange, 0);
        }
    }
}
