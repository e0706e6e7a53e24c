using System.Text;

namespace Nitro.Kvm.Targets;

/// <summary>
/// Reads the complete lines appended to a log file since the last call: a line still being written
/// waits for its newline, a UTF-8 character split between reads is kept whole, and a log that was
/// started afresh (shorter than what was read) is read again from the top.
/// </summary>
internal sealed class LogLineFollower(string path)
{
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
    private readonly byte[] _bytes = new byte[64 * 1024];
    private readonly StringBuilder _pending = new();
    private long _offset;

    /// <summary>Gets the file followed.</summary>
    public string Path { get; } = path;

    /// <summary>Reads what was appended since the last call.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The new complete lines, without line ends; none when the file does not exist yet.</returns>
    public async Task<IReadOnlyList<string>> ReadNewLinesAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Path))
        {
            return [];
        }

        await using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (stream.Length < _offset)
        {
            _offset = 0;
            _decoder.Reset();
            _pending.Clear();
        }

        stream.Seek(_offset, SeekOrigin.Begin);
        var chars = new char[Encoding.UTF8.GetMaxCharCount(_bytes.Length)];
        int read;
        while ((read = await stream.ReadAsync(_bytes, cancellationToken)) > 0)
        {
            _offset += read;
            _pending.Append(chars, 0, _decoder.GetChars(_bytes, 0, read, chars, 0));
        }

        var parts = _pending.ToString().Split('\n');
        _pending.Clear().Append(parts[^1]);
        return parts[..^1].Select(line => line.TrimEnd('\r')).ToList();
    }
}
