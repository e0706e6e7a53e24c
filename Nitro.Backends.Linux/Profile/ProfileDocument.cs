using System.Text.Json.Serialization;

namespace Nitro.Backends.Linux.Profile;

/// <summary>
/// The cached, KASLR-independent part of a <see cref="LinuxKernelProfile"/>: image addresses are
/// stored relative to <c>_text</c>, so one file serves every boot of the same kernel build.
/// </summary>
internal sealed class ProfileDocument
{
    public const int CurrentFormat = 3;

    public int Format { get; set; } = CurrentFormat;

    public string Banner { get; set; } = string.Empty;

    /// <summary>Gets or sets image symbols as offsets from <c>_text</c>.</summary>
    public Dictionary<string, ulong> Symbols { get; set; } = new(StringComparer.Ordinal);

    public ulong CurrentTaskPerCpuOffset { get; set; }

    /// <summary>Gets or sets the per-cpu offset of the current task's kernel stack top (format 3), where the kernel has one.</summary>
    public ulong? TopOfStackPerCpuOffset { get; set; }

    public KernelTypeOffsets? Offsets { get; set; }

    public List<SyscallDocument> Syscalls { get; set; } = [];

    public List<SyscallDocument> Ia32Syscalls { get; set; } = [];

    /// <summary>Gets or sets why the ia32 table could not be read (format 2).</summary>
    public string? Ia32Error { get; set; }
}

/// <summary>A syscall slot with its handler relative to <c>_text</c>.</summary>
internal sealed record SyscallDocument(int Number, string HandlerName, string Name, ulong HandlerOffset);

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(ProfileDocument))]
internal sealed partial class ProfileJsonContext : JsonSerializerContext;
