using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Nitro.Kvm.Libvirt;
using Nitro.Kvm.Memory;
using Nitro.Kvm.Nitro;
using Nitro.Reactive.Memory;

namespace Nitro.Kvm.Targets;

/// <summary>
/// A running QEMU domain of a libvirt daemon on this host, opened for tracing: the trap plugin or
/// gdbstub its XML declares, its RAM read through <c>/proc/&lt;pid&gt;/mem</c> of its QEMU process, pause and resume
/// through libvirt, and its serial console through the port's unix socket and log file. Disposing
/// the target closes these; the domain keeps running.
/// </summary>
public sealed class LibvirtTraceTarget : ITraceTarget, IDisposable
{
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(100);

    private readonly LibvirtDomain _domain;
    private readonly ProcessMemoryGuestMemory _memory;

    private LibvirtTraceTarget(LibvirtDomain domain, TraceableDomainDescription description, int pid, ProcessMemoryGuestMemory memory)
    {
        _domain = domain;
        Description = description;
        Pid = pid;
        _memory = memory;
    }

    /// <summary>Gets what the domain's XML said.</summary>
    public TraceableDomainDescription Description { get; }

    /// <summary>Gets the QEMU process id.</summary>
    public int Pid { get; }

    /// <inheritdoc />
    public string Name => Description.Name;

    /// <inheritdoc />
    public string? GdbSocketPath => Description.GdbSocketPath;

    /// <inheritdoc />
    public string? PluginControlPath => Description.PluginControlPath;

    /// <inheritdoc />
    public string? KernelCommandLine => Description.KernelCommandLine;

    /// <inheritdoc />
    public IGuestMemory Memory => _memory;

    /// <inheritdoc />
    /// <remarks>The domain is shutting down or off, or its QEMU process is gone.</remarks>
    public bool HasExited
    {
        get
        {
            if (!Directory.Exists($"/proc/{Pid}"))
            {
                return true;
            }

            try
            {
                return _domain.GetState().State is DomainState.Shutdown or DomainState.Shutoff or DomainState.Crashed;
            }
            catch (LibvirtException)
            {
                return false;
            }
        }
    }

    /// <summary>Gets libvirt's state of the domain and the reason code libvirt gave for it.</summary>
    public (DomainState State, int Reason) State => _domain.GetState();

    /// <summary>Opens a running domain for tracing.</summary>
    /// <param name="connection">A connection to the libvirt daemon that runs the domain, on this host.</param>
    /// <param name="domainName">The domain.</param>
    /// <param name="runDirectory">libvirt's QEMU run directory (where it writes <c>&lt;domain&gt;.pid</c>).</param>
    /// <returns>The target; dispose it before the domain stops.</returns>
    /// <exception cref="LibvirtException">The domain does not exist.</exception>
    /// <exception cref="InvalidOperationException">The domain is not running, or its QEMU process is not on this host.</exception>
    /// <exception cref="FormatException">The domain declares neither the trap plugin nor a gdbstub on a unix socket.</exception>
    /// <exception cref="IOException">Its RAM could not be found in the QEMU process.</exception>
    public static LibvirtTraceTarget Open(LibvirtConnection connection, string domainName, string runDirectory = "/run/libvirt/qemu")
    {
        ArgumentNullException.ThrowIfNull(connection);
        var domain = connection.LookupDomain(domainName);
        try
        {
            var (state, _) = domain.GetState();
            if (state is not (DomainState.Running or DomainState.Paused))
            {
                throw new InvalidOperationException($"Domain '{domainName}' on {connection.Uri} is {state}; start it before tracing it.");
            }

            var description = TraceableDomainDescription.Parse(domain.GetXmlDescription());
            var pid = FindProcess(domainName, runDirectory) ?? throw new InvalidOperationException(
                $"The QEMU process of domain '{domainName}' ({connection.Uri}) is not on this host: tracing reads its memory and gdbstub socket here, so connect to the libvirt daemon of the host that runs it.");
            var layout = ReadRamLayout(domain, description);
            var memory = new ProcessMemoryGuestMemory(pid, ProcessMemoryGuestMemory.FindRam(pid, description.MemoryBytes), layout, writable: true);
            return new LibvirtTraceTarget(domain, description, pid, memory);
        }
        catch
        {
            domain.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public Task PauseAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _domain.Suspend();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ResumeAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _domain.Resume();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>Reads the serial port's log file (<c>&lt;serial&gt;&lt;log file=…/&gt;</c>), which libvirt starts afresh with each start unless it appends.</remarks>
    /// <exception cref="InvalidOperationException">The domain's first serial port has no log file.</exception>
    public async Task<string> WaitForConsoleAsync(string marker, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(marker);
        var log = Description.ConsoleLogPath ?? throw new InvalidOperationException(
            $"Domain '{Name}' has no serial log to watch; add <log file='/path/console.log'/> to its <serial> element.");
        var deadline = DateTime.UtcNow + timeout;
        var follower = new LogLineFollower(log);
        string? last = null;
        while (true)
        {
            foreach (var line in await follower.ReadNewLinesAsync(cancellationToken))
            {
                last = line;
                if (line.Contains(marker, StringComparison.Ordinal))
                {
                    return line;
                }
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"'{marker}' did not appear on the console of domain '{Name}' within {timeout.TotalSeconds:0.#} s; last line: {last ?? "(none)"}; log: {log}"));
            }

            await Task.Delay(s_pollInterval, cancellationToken);
        }
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The domain's first serial port is not a unix socket.</exception>
    /// <exception cref="IOException">The socket could not be reached.</exception>
    public async Task SendConsoleLineAsync(string line, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(line);
        var path = Description.ConsoleSocketPath ?? throw new InvalidOperationException(
            $"Domain '{Name}' has no serial port on a unix socket to type on; declare <serial type='unix'><source mode='bind' path='/path/console.sock'/></serial>.");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            await socket.SendAsync(Encoding.UTF8.GetBytes(line + "\n"), SocketFlags.None, cancellationToken);
        }
        catch (SocketException ex)
        {
            throw new IOException($"Cannot type on the console of domain '{Name}' at {path}: {ex.Message}", ex);
        }
    }

    /// <summary>Closes the memory and the domain reference; the domain keeps running.</summary>
    public void Dispose()
    {
        _memory.Dispose();
        _domain.Dispose();
    }

    /// <summary>
    /// Where guest physical memory is in the RAM block, from QEMU's flat memory view. Up to 2 GiB a PC
    /// guest's RAM is one piece from 0 on every machine type, so a monitor that cannot be asked
    /// (another hypervisor driver) matters only above that.
    /// </summary>
    private static QemuRamLayout ReadRamLayout(LibvirtDomain domain, TraceableDomainDescription description)
    {
        string view;
        try
        {
            view = domain.QemuMonitorCommand("info mtree -f");
        }
        catch (Exception ex) when (ex is LibvirtException or DllNotFoundException or EntryPointNotFoundException)
        {
            return description.MemoryBytes <= (2UL << 30)
                ? QemuRamLayout.Flat(description.MemoryBytes)
                : throw new IOException(
                    $"Domain '{description.Name}' has {description.MemoryBytes >> 20} MiB of RAM, which QEMU may split around the PCI hole, and its QEMU monitor cannot be asked where ('info mtree -f': {ex.Message}).", ex);
        }

        try
        {
            return QemuRamLayout.Parse(view, description.MemoryBytes);
        }
        catch (FormatException ex)
        {
            throw new IOException($"Domain '{description.Name}': {ex.Message}", ex);
        }
    }

    private static int? FindProcess(string domainName, string runDirectory)
    {
        if (QemuProcessFinder.FromLibvirtPidFile(domainName, runDirectory) is { } pid && Directory.Exists($"/proc/{pid}"))
        {
            return pid;
        }

        return QemuProcessFinder.FromProcessList(domainName);
    }
}
