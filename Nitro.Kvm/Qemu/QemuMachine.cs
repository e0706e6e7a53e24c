using System.Diagnostics;
using System.Globalization;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using System.Reactive.Subjects;
using Nitro.Kvm.Memory;
using Nitro.Kvm.Targets;
using Nitro.Reactive.Memory;

namespace Nitro.Kvm.Qemu;

/// <summary>
/// A running <c>qemu-system-x86_64</c> prepared for tracing: a gdbstub and QMP on unix sockets,
/// guest RAM in a shared file on <c>/dev/shm</c>, the serial console as an observable of lines and
/// a log file. <see cref="DisposeAsync"/> asks QEMU to quit, kills it by pid if it does not, and
/// removes the sockets and the RAM file however the machine ended.
/// </summary>
public sealed class QemuMachine : ITraceTarget, IAsyncDisposable
{
    private readonly Process _process;
    private readonly ReplaySubject<string> _console = new(bufferSize: 10_000);
    private readonly StreamWriter _log;
    private readonly Queue<string> _recent = new();
    private readonly bool _ownsWorkDirectory;
    private readonly Task _stdout;
    private readonly Task _stderr;
    private readonly int _pid;
    private readonly Lazy<SharedMemoryGuestMemory> _memory;
    private const int RecentLines = 20;
    private int _disposed;
    private volatile bool _exited;

    private QemuMachine(Process process, QemuOptions options, string workDirectory, bool ownsWorkDirectory, string memoryPath, QemuAccelerator accelerator)
    {
        PluginControlPath = options.TrapPlugin is null ? null : ControlPathFor(memoryPath);
        _process = process;
        _pid = process.Id;
        Options = options;
        WorkDirectory = workDirectory;
        _ownsWorkDirectory = ownsWorkDirectory;
        MemoryPath = memoryPath;
        Accelerator = accelerator;
        ConsoleLogPath = Path.Combine(workDirectory, "console.log");
        _log = new StreamWriter(ConsoleLogPath, append: false) { AutoFlush = true };
        _memory = new Lazy<SharedMemoryGuestMemory>(OpenMemory, LazyThreadSafetyMode.ExecutionAndPublication);
        _stdout = PumpAsync(process.StandardOutput, isError: false);
        _stderr = PumpAsync(process.StandardError, isError: true);
    }

    /// <summary>Gets the options the machine was started with.</summary>
    public QemuOptions Options { get; }

    /// <inheritdoc />
    public string Name => Options.Name;

    /// <inheritdoc />
    public string? KernelCommandLine => Options.Append;

    /// <summary>Gets the guest's physical memory (the shared RAM file, mapped on first use and unmapped when QEMU stops).</summary>
    public IGuestMemory Memory => _memory.Value;

    /// <summary>Gets the QEMU process id.</summary>
    public int Pid => _pid;

    /// <summary>Gets the accelerator in use.</summary>
    public QemuAccelerator Accelerator { get; }

    /// <summary>Gets the directory holding the sockets and the console log.</summary>
    public string WorkDirectory { get; }

    /// <summary>Gets the QMP socket path.</summary>
    public string QmpSocketPath => Path.Combine(WorkDirectory, "qmp.sock");

    /// <summary>Gets the gdbstub socket path.</summary>
    public string GdbSocketPath => Path.Combine(WorkDirectory, "gdb.sock");

    /// <summary>Gets the guest RAM file.</summary>
    public string MemoryPath { get; }

    /// <summary>Gets the trap plugin's control file (next to the RAM file), or <see langword="null"/> when QEMU runs without the plugin.</summary>
    public string? PluginControlPath { get; }

    /// <summary>Gets the console log file (serial output and QEMU's own messages).</summary>
    public string ConsoleLogPath { get; }

    /// <summary>Gets the connected QMP client.</summary>
    public QmpClient Qmp { get; private set; } = null!;

    /// <summary>Gets the serial console, line by line (replays up to 10,000 earlier lines to late subscribers).</summary>
    public IObservable<string> Console => _console.AsObservable();

    /// <summary>Gets a value indicating whether QEMU has exited.</summary>
    public bool HasExited => _exited || _process.HasExited;

    /// <summary>Starts QEMU and connects to QMP.</summary>
    /// <param name="options">What to run.</param>
    /// <param name="cancellationToken">Cancels start-up (QEMU is then killed).</param>
    /// <returns>The running machine.</returns>
    /// <exception cref="QemuException">QEMU is missing, exited at once, or QMP did not answer.</exception>
    public static async Task<QemuMachine> StartAsync(QemuOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(options.Kernel))
        {
            throw new QemuException($"Kernel image {options.Kernel} does not exist (build the guest with guest/build.sh).");
        }

        if (options.Initrd is not null && !File.Exists(options.Initrd))
        {
            throw new QemuException($"Initramfs {options.Initrd} does not exist (build the guest with guest/build.sh).");
        }

        if (options.MemoryMiB is < 16 or > 3072)
        {
            throw new QemuException($"MemoryMiB must be between 16 and 3072, not {options.MemoryMiB}.");
        }

        var ownsWorkDirectory = options.WorkDirectory is null;
        var workDirectory = options.WorkDirectory ?? Directory.CreateTempSubdirectory("nitro-qemu-").FullName;
        Directory.CreateDirectory(workDirectory);
        var memoryPath = Path.Combine(options.MemoryDirectory, $"nitro-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var accelerator = options.Accelerator == QemuAccelerator.Auto
            ? (KvmProbe.IsUsable() ? QemuAccelerator.Kvm : QemuAccelerator.Tcg)
            : options.Accelerator;

        var start = new ProcessStartInfo(options.QemuPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in BuildArguments(options, workDirectory, memoryPath, accelerator))
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new QemuException($"{options.QemuPath} did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new QemuException($"Cannot run {options.QemuPath}: {ex.Message}. Install it with: apt-get install qemu-system-x86", ex);
        }

        var machine = new QemuMachine(process, options, workDirectory, ownsWorkDirectory, memoryPath, accelerator);
        try
        {
            machine.Qmp = await QmpClient.ConnectAsync(machine.QmpSocketPath, TimeSpan.FromSeconds(30), cancellationToken);
            return machine;
        }
        catch (Exception ex)
        {
            var log = await machine.StopAndCollectLogAsync();
            throw new QemuException($"QEMU did not come up: {ex.Message}{Environment.NewLine}QEMU said: {log}", ex);
        }
    }

    /// <summary>The command line used for <paramref name="options"/> (exposed for diagnostics and tests).</summary>
    /// <param name="options">The options.</param>
    /// <param name="workDirectory">Where the sockets go.</param>
    /// <param name="memoryPath">The guest RAM file.</param>
    /// <param name="accelerator">The resolved accelerator.</param>
    /// <returns>The arguments after the QEMU binary.</returns>
    public static IReadOnlyList<string> BuildArguments(QemuOptions options, string workDirectory, string memoryPath, QemuAccelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(options);
        var append = options.Append ?? string.Empty;
        if (!append.Contains("console=", StringComparison.Ordinal))
        {
            append = ("console=ttyS0 " + append).Trim();
        }

        var memory = options.MemoryMiB.ToString(CultureInfo.InvariantCulture);
        var args = new List<string>
        {
            "-name", "guest=" + options.Name,

            // Several vCPUs under TCG run on one host thread each (MTTCG), so that they trap in parallel.
            "-accel", accelerator == QemuAccelerator.Kvm ? "kvm" : options.Vcpus > 1 ? "tcg,thread=multi" : "tcg",
            "-machine", "pc,memory-backend=mem",
            "-object", $"memory-backend-file,id=mem,size={memory}M,mem-path={memoryPath},share=on",
            "-m", memory + "M",
            "-smp", options.Vcpus.ToString(CultureInfo.InvariantCulture),
            "-display", "none",
            "-vga", "none",
            "-nodefaults",
            "-no-reboot",
            "-serial", "stdio",
            "-monitor", "none",
            "-qmp", $"unix:{Path.Combine(workDirectory, "qmp.sock")},server=on,wait=off",
            "-chardev", $"socket,id=gdb0,path={Path.Combine(workDirectory, "gdb.sock")},server=on,wait=off",
            "-gdb", "chardev:gdb0",
            "-kernel", options.Kernel,
            "-append", append,
        };
        if (options.Initrd is not null)
        {
            args.Add("-initrd");
            args.Add(options.Initrd);
        }

        if (options.StartPaused)
        {
            args.Add("-S");
        }

        if (options.TrapPlugin is { } plugin)
        {
            args.Add("-plugin");
            args.Add(PluginArgument(plugin, memoryPath));
        }

        args.AddRange(options.ExtraArguments);
        return args;
    }

    /// <summary>Opens the guest's physical memory (mapped from the shared RAM file).</summary>
    /// <returns>The memory; dispose it before the machine.</returns>
    public SharedMemoryGuestMemory OpenMemory() => new(MemoryPath);

    /// <summary>Waits until a console line contains <paramref name="marker"/>.</summary>
    /// <param name="marker">The text to wait for, e.g. <c>NITRO-GUEST-READY</c>.</param>
    /// <param name="timeout">The deadline.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The matching line.</returns>
    /// <exception cref="TimeoutException">The marker did not appear in time (the message names the last console line).</exception>
    public async Task<string> WaitForConsoleAsync(string marker, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        string? last = null;
        try
        {
            return await Console
                .Do(line => last = line)
                .FirstAsync(line => line.Contains(marker, StringComparison.Ordinal))
                .Timeout(timeout)
                .ToTask(cancellationToken);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"'{marker}' did not appear on the console within {timeout.TotalSeconds:0.#} s; last line: {last ?? "(none)"}; log: {ConsoleLogPath}", ex);
        }
        catch (InvalidOperationException ex) when (HasExited)
        {
            throw new QemuException($"QEMU exited before '{marker}' appeared on the console; log: {ConsoleLogPath}", ex);
        }
    }

    /// <summary>Pauses the guest (QMP <c>stop</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when QEMU has answered.</returns>
    public Task PauseAsync(CancellationToken cancellationToken) => Qmp.StopAsync(cancellationToken);

    /// <summary>Resumes the guest (QMP <c>cont</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when QEMU has answered.</returns>
    public Task ResumeAsync(CancellationToken cancellationToken) => Qmp.ContinueAsync(cancellationToken);

    /// <summary>Types a line on the guest's serial console (QEMU's standard input).</summary>
    /// <param name="line">The text, without the newline.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the line was written.</returns>
    /// <exception cref="QemuException">QEMU has exited.</exception>
    public async Task SendConsoleLineAsync(string line, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(line);
        try
        {
            await _process.StandardInput.WriteAsync((line + "\n").AsMemory(), cancellationToken);
            await _process.StandardInput.FlushAsync(cancellationToken);
        }
        catch (IOException ex)
        {
            throw new QemuException("Cannot type on the guest console: QEMU has exited.", ex);
        }
    }

    /// <summary>Waits until QEMU exits (for example after the guest powered off).</summary>
    /// <param name="timeout">The deadline.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when QEMU exited in time.</returns>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Stops QEMU: QMP <c>quit</c>, then a kill by pid after a grace period; removes sockets and the RAM file.</summary>
    /// <returns>A task that completes when QEMU is gone and the files are removed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAndCollectLogAsync();
    }

    private async Task<string> StopAndCollectLogAsync()
    {
        try
        {
            if (!_process.HasExited && Qmp is not null)
            {
                using var quitTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                try
                {
                    await Qmp.QuitAsync(quitTimeout.Token);
                }
                catch (Exception ex) when (ex is QemuException or OperationCanceledException)
                {
                    // Falls through to the kill below.
                }
            }

            if (!await WaitForExitAsync(TimeSpan.FromSeconds(5)))
            {
                _process.Kill(entireProcessTree: true);
                await WaitForExitAsync(TimeSpan.FromSeconds(10));
            }

            _exited = _process.HasExited;
        }
        finally
        {
            if (Qmp is not null)
            {
                await Qmp.DisposeAsync();
            }

            await Task.WhenAny(Task.WhenAll(_stdout, _stderr), Task.Delay(TimeSpan.FromSeconds(2)));
            _console.OnCompleted();
            await _log.DisposeAsync();
            if (_memory.IsValueCreated)
            {
                _memory.Value.Dispose();
            }

            TryDelete(MemoryPath);
            TryDelete(PluginControlPath); // the plugin removes it when QEMU exits normally, not when QEMU is killed
            TryDelete(QmpSocketPath);
            TryDelete(GdbSocketPath);
            _process.Dispose();
        }

        var text = File.Exists(ConsoleLogPath) ? await File.ReadAllTextAsync(ConsoleLogPath) : string.Empty;
        if (_ownsWorkDirectory && Environment.GetEnvironmentVariable("NITRO_KEEP_QEMU_LOGS") is null)
        {
            try
            {
                Directory.Delete(WorkDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        return text.Length > 4000 ? text[^4000..] : text;
    }

    private async Task PumpAsync(StreamReader reader, bool isError)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                line = line.TrimEnd('\r');
                lock (_log)
                {
                    var logged = isError ? "[qemu] " + line : line;
                    _log.WriteLine(logged);
                    _recent.Enqueue(logged);
                    if (_recent.Count > RecentLines)
                    {
                        _recent.Dequeue();
                    }
                }

                if (!isError)
                {
                    _console.OnNext(line);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // QEMU went away; the exit is observed elsewhere.
        }
    }

    /// <summary>The last lines QEMU and the guest printed, with QEMU's exit code once it ended: why a machine went away.</summary>
    internal string DescribeEnd()
    {
        string lines;
        lock (_log)
        {
            lines = string.Join(Environment.NewLine, _recent);
        }

        var code = _process.HasExited ? FormattableString.Invariant($"QEMU exited with code {_process.ExitCode}") : "QEMU still runs";
        return $"{code}; its last output:{Environment.NewLine}{lines}";
    }

    private static string ControlPathFor(string memoryPath) => memoryPath + ".ctl";

    private static string PluginArgument(TrapPluginLaunch plugin, string memoryPath)
    {
        if (plugin.PluginPath.Contains(',', StringComparison.Ordinal) || memoryPath.Contains(',', StringComparison.Ordinal))
        {
            throw new QemuException($"QEMU cannot load a plugin from a path with a comma: {plugin.PluginPath} (RAM file {memoryPath}).");
        }

        var hold = plugin.HoldAtFirstUserInstruction
            ? FormattableString.Invariant($",hold=on,hold_ms={(long)(plugin.HoldTimeout > TimeSpan.Zero ? plugin.HoldTimeout : TimeSpan.FromSeconds(60)).TotalMilliseconds}")
            : string.Empty;
        return $"{plugin.PluginPath},ctl={ControlPathFor(memoryPath)},ram={memoryPath}{hold}";
    }

    private static void TryDelete(string? path)
    {
        if (path is null)
        {
            return;
        }

        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
