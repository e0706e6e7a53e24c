using System.Diagnostics.CodeAnalysis;
using Nitro.Backends.Linux.Profile;
using Nitro.Reactive.Backends;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Tracing;

/// <summary>
/// Creates the <see cref="LinuxBackend"/> of a running x86-64 Linux guest: its profile from the
/// guest's own kallsyms and BTF (cached per kernel build), once the kernel has booted far enough.
/// </summary>
public sealed class LinuxBackendFactory : ISyscallBackendFactory
{
    /// <summary>Gets the factory with default settings (the default profile cache).</summary>
    public static LinuxBackendFactory Default { get; } = new();

    /// <summary>Initializes a new instance.</summary>
    /// <param name="profileCacheDirectory">Where profiles are cached; <see langword="null"/> for <see cref="LinuxKernelProfile.DefaultCacheDirectory"/>.</param>
    /// <param name="hookFailurePolicy">What the back end does when a hook throws.</param>
    public LinuxBackendFactory(string? profileCacheDirectory = null, HookFailurePolicy hookFailurePolicy = HookFailurePolicy.Report)
    {
        ProfileCacheDirectory = profileCacheDirectory;
        HookFailurePolicy = hookFailurePolicy;
    }

    /// <inheritdoc />
    public string Name => "Linux";

    /// <summary>Gets the profile cache directory (<see langword="null"/>: the default).</summary>
    public string? ProfileCacheDirectory { get; }

    /// <summary>Gets what created back ends do when a hook throws.</summary>
    public HookFailurePolicy HookFailurePolicy { get; }

    /// <inheritdoc />
    public bool TryCreate(IGuestMemory memory, [NotNullWhen(true)] out SyscallBackend? backend, out string? notReady, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(memory);
        try
        {
            var profile = LinuxKernelProfile.LoadOrBuild(memory, ProfileCacheDirectory, cancellationToken);
            var linux = new LinuxBackend(memory, profile, HookFailurePolicy);

            // Early in boot handlers still begin with 'call __fentry__' (ftrace patches them to NOPs
            // later); planning one handler trap tells whether that has happened.
            linux.CreatePlan(["read"]);
            backend = linux;
            notReady = null;
            return true;
        }
        catch (ProfileException e)
        {
            backend = null;
            notReady = e.Message;
            return false;
        }
    }
}
