using System.Text;

namespace Nitro.PublicApi.Tests;

/// <summary>A line diff of two texts that differ in a few places: common head and tail trimmed, a longest common subsequence in between.</summary>
internal static class LineDiff
{
    private const int Context = 3;

    public static string Describe(string before, string after)
    {
        var a = before.Split('\n');
        var b = after.Split('\n');
        var head = 0;
        while (head < a.Length && head < b.Length && string.Equals(a[head], b[head], StringComparison.Ordinal))
        {
            head++;
        }

        var tail = 0;
        while (tail < a.Length - head && tail < b.Length - head && string.Equals(a[^(tail + 1)], b[^(tail + 1)], StringComparison.Ordinal))
        {
            tail++;
        }

        var lines = new List<string>();
        for (var i = Math.Max(0, head - Context); i < head; i++)
        {
            lines.Add("  " + a[i]);
        }

        lines.AddRange(Middle(a[head..^tail], b[head..^tail]));
        for (var i = a.Length - tail; i < Math.Min(a.Length, a.Length - tail + Context); i++)
        {
            lines.Add("  " + a[i]);
        }

        var text = new StringBuilder();
        text.Append("@@ line ").Append(head + 1).AppendLine(" @@");
        foreach (var line in lines)
        {
            text.AppendLine(line);
        }

        return text.ToString();
    }

    private static List<string> Middle(string[] a, string[] b)
    {
        // Beyond a few thousand differing lines an LCS table is too large; list both sides then.
        if ((long)a.Length * b.Length > 4_000_000)
        {
            return [.. a.Select(l => "- " + l), .. b.Select(l => "+ " + l)];
        }

        var common = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
        {
            for (var j = b.Length - 1; j >= 0; j--)
            {
                common[i, j] = string.Equals(a[i], b[j], StringComparison.Ordinal)
                    ? common[i + 1, j + 1] + 1
                    : Math.Max(common[i + 1, j], common[i, j + 1]);
            }
        }

        var lines = new List<string>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && string.Equals(a[x], b[y], StringComparison.Ordinal))
            {
                lines.Add("  " + a[x]);
                x++;
                y++;
            }
            else if (y < b.Length && (x == a.Length || common[x, y + 1] > common[x + 1, y]))
            {
                lines.Add("+ " + b[y]);
                y++;
            }
            else
            {
                lines.Add("- " + a[x]);
                x++;
            }
        }

        return lines;
    }
}
