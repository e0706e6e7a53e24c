using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Testing.Builders;

/// <summary>
/// Builds fake Linux x86-64 <see cref="Syscall"/>s for rule tests, backed by a real <see cref="NitroEvent"/>
/// whose registers follow <see cref="CallingConvention.LinuxX64"/>: arguments 0–5 in RDI, RSI, RDX, R10, R8, R9;
/// RAX holds the call number on entry and the return value on exit. The arguments have no guest memory,
/// so pointer arguments cannot be followed; put what a decoder would have read in <see cref="WithDecoded"/>.
/// </summary>
/// <remarks>
/// Defaults: process <c>init</c> with pid 1, the call number from a small table of common Linux x86-64
/// numbers (0 for names it does not know; see <see cref="WithNumber"/>), vCPU 0, time 0, full name
/// <c>__x64_sys_</c> plus the name, no thread id.
/// </remarks>
/// <example><code>
/// var call = SyscallBuilder.Enter("openat").ByProcess("cat", pid: 42)
///     .WithArgs(0xffffff9c, 0x1000, 0).WithDecoded("filename", "/etc/shadow")
///     .OnVcpu(1).AtTime(5_000).Build();
/// </code></example>
public sealed class SyscallBuilder
{
    private readonly string _name;
    private readonly SyscallDirection _direction;
    private readonly long _returnValue;
    private readonly ulong[] _arguments = new ulong[6];
    private readonly Dictionary<string, object?> _decoded = new(StringComparer.Ordinal);
    private long _number;
    private string _fullName;
    private Process? _process = new(1, "init");
    private long? _threadId;
    private int _vcpu;
    private long _timestamp;
    private ulong _cr3 = NitroEventBuilder.DefaultCr3;

    private SyscallBuilder(string name, SyscallDirection direction, long returnValue)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        _name = name;
        _direction = direction;
        _returnValue = returnValue;
        _number = LinuxSyscallNumbers.Lookup(name);
        _fullName = "__x64_sys_" + name;
    }

    /// <summary>Starts building the entry into system call <paramref name="name"/>.</summary>
    /// <param name="name">The short name, for example <c>openat</c>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static SyscallBuilder Enter(string name) => new(name, SyscallDirection.Enter, 0);

    /// <summary>Starts building the exit from system call <paramref name="name"/>.</summary>
    /// <param name="name">The short name, for example <c>openat</c>.</param>
    /// <param name="returnValue">The return value, placed in RAX (negative for <c>-errno</c>).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static SyscallBuilder Exit(string name, long returnValue) => new(name, SyscallDirection.Exit, returnValue);

    /// <summary>Sets the calling process.</summary>
    /// <param name="name">The short process name.</param>
    /// <param name="pid">The process id.</param>
    /// <param name="parentPid">The parent's process id, when it matters.</param>
    /// <returns>This builder.</returns>
    public SyscallBuilder ByProcess(string name, int pid = 1, int? parentPid = null)
    {
        _process = new Process(pid, name, parentPid);
        return this;
    }

    /// <summary>Sets the calling process.</summary>
    /// <param name="process">The process, or <see langword="null"/> for "unknown".</param>
    /// <returns>This builder.</returns>
    public SyscallBuilder ByProcess(Process? process)
    {
        _process = process;
        return this;
    }

    /// <summary>Sets the raw arguments from the first one on; the others stay zero.</summary>
    /// <param name="arguments">At most six values, for RDI, RSI, RDX, R10, R8 and R9.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException">More than six arguments.</exception>
    public SyscallBuilder WithArgs(params ulong[] arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.Length > _arguments.Length)
        {
            throw new ArgumentException($"Linux x86-64 system calls take at most 6 register arguments; got {arguments.Length}.", nameof(arguments));
        }

        Array.Clear(_arguments);
        arguments.CopyTo(_arguments, 0);
        return this;
    }

    /// <summary>Adds a decoded argument value, as an OS back end would (a path, flags, an <see cref="Unreadable"/> …).</summary>
    /// <param name="name">The argument name, for example <c>filename</c>.</param>
    /// <param name="value">The value.</param>
    /// <returns>This builder.</returns>
    public SyscallBuilder WithDecoded(string name, object? value)
    {
        ArgumentNullException.ThrowIfNull(name);
        _decoded[name] = value;
        return this;
    }

    /// <summary>Overrides the call number looked up from the name.</summary>
    /// <param name="number">The number.</param>
    /// <returns>This builder.</returns>
    public SyscallBuilder WithNumber(long number)
    {
        _number = number;
        return this;
    }

    /// <summary>Overrides the kernel's full name of the handler.</summary>
    /// <param name="fullName">The full name, for example <c>__x64_sys_openat</c>.</param>
    /// <returns>This builder.</returns>
    public SyscallBuilder WithFullName(string fullName)
    {
        ArgumentNullException.ThrowIfNull(fullName);
        _fullName = fullName;
        return this;
    }

    /// <summary>Sets the calling thread's identity (used to pair entries with exits).</summary>
    /// <param name="threadId">The thread id.</param>
    /// <returns>This builder.</returns>
    public SyscallBuilder WithThreadId(long threadId)
    {
        _threadId = threadId;
        return this;
    }

    /// <summary>Sets the vCPU that trapped.</summary>
    /// <param name="vcpu">The 0-based vCPU index.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vcpu"/> is negative.</exception>
    public SyscallBuilder OnVcpu(int vcpu)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
        _vcpu = vcpu;
        return this;
    }

    /// <summary>Sets the host monotonic timestamp of the trap.</summary>
    /// <param name="nanoseconds">The time in nanoseconds.</param>
    /// <returns>This builder.</returns>
    public SyscallBuilder AtTime(long nanoseconds)
    {
        _timestamp = nanoseconds;
        return this;
    }

    /// <summary>Sets CR3 (the address space of the caller).</summary>
    /// <param name="cr3">The value.</param>
    /// <returns>This builder.</returns>
    public SyscallBuilder WithCr3(ulong cr3)
    {
        _cr3 = cr3;
        return this;
    }

    /// <summary>Builds the call. The builder may be changed and used again.</summary>
    /// <returns>The system call, with its <see cref="NitroEvent"/> and an <see cref="ArgumentMap"/> without guest memory.</returns>
    public Syscall Build()
    {
        var registers = new Registers
        {
            Rax = _direction == SyscallDirection.Enter ? (ulong)_number : (ulong)_returnValue,
            Rdi = _arguments[0],
            Rsi = _arguments[1],
            Rdx = _arguments[2],
            R10 = _arguments[3],
            R8 = _arguments[4],
            R9 = _arguments[5],
        };

        var trap = new NitroEventBuilder()
            .WithRegisters(in registers)
            .WithMechanism(SyscallMechanism.Syscall)
            .OnVcpu(_vcpu)
            .AtTime(_timestamp)
            .WithCr3(_cr3);
        var @event = (_direction == SyscallDirection.Enter ? trap.Enter() : trap.Exit()).Build();
        var decoded = new Dictionary<string, object?>(_decoded, StringComparer.Ordinal);
        return new Syscall(
            @event,
            _number,
            _name,
            _fullName,
            _process,
            new ArgumentMap(@event, CallingConvention.LinuxX64, memory: null),
            _threadId,
            decoded);
    }
}
