using System.Globalization;
using System.Reflection;
using System.Text;
using Nitro.Kvm.Plugin;
using Nitro.Kvm.Tests.Nitro;
using Nitro.Tests.Shared;

namespace Nitro.Kvm.Tests.Plugin;

/// <summary>
/// Compares every constant of <see cref="PluginProtocol"/> with what gcc computes from the plugin's
/// own protocol header (<c>nitro_trap_protocol.h</c>, as shipped in the assembly): sizes, offsets
/// and enum values.
/// </summary>
[NonParallelizable]
public sealed class PluginProtocolLayoutTests
{
    private static readonly Dictionary<string, string> s_cStruct = new(StringComparer.Ordinal)
    {
        ["Header"] = "struct ntp_header",
        ["Plan"] = "struct ntp_plan",
        ["Vcpu"] = "struct ntp_vcpu",
        ["Record"] = "struct ntp_record",
        ["RamSegment"] = "struct ntp_ram_segment",
    };

    private Dictionary<string, long> _c = [];

    public static IEnumerable<string> Constants =>
        typeof(PluginProtocol).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => f.Name)
            .Concat(typeof(PluginProtocol).GetNestedTypes().SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => t.Name + "." + f.Name)));

    [OneTimeSetUp]
    public void Compile()
    {
        var gcc = NativeLayoutProgram.FindGcc();
        if (gcc is null)
        {
            Assert.Ignore("gcc not found on PATH: the protocol layout comparison compiles a C program (install gcc to run it).");
        }

        var directory = Directory.CreateTempSubdirectory("nitro-protocol-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(directory, "nitro_trap_protocol.h"), TrapPlugin.ReadSource("nitro_trap_protocol.h"));
            var program = new StringBuilder("#include <stdio.h>\n#include <stddef.h>\n#include \"nitro_trap_protocol.h\"\nint main(void) {\n");
            foreach (var name in Constants)
            {
                program.Append(CultureInfo.InvariantCulture, $"    printf(\"{name} %lld\\n\", (long long)({CExpression(name)}));\n");
            }

            program.Append("    return 0;\n}\n");
            File.WriteAllText(Path.Combine(directory, "layout.c"), program.ToString());
            var executable = Path.Combine(directory, "layout");
            var (exit, _, error) = ProcessRunner.Run(gcc, TimeSpan.FromMinutes(1), "-std=gnu11", "-Wall", "-Werror", "-o", executable, Path.Combine(directory, "layout.c"));
            Assert.That(exit, Is.Zero, error);
            var (runExit, output, runError) = ProcessRunner.Run(executable, TimeSpan.FromMinutes(1));
            Assert.That(runExit, Is.Zero, runError);
            _c = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split(' '))
                .ToDictionary(f => f[0], f => long.Parse(f[1], CultureInfo.InvariantCulture), StringComparer.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestCaseSource(nameof(Constants))]
    public void Constant_matches_the_C_header(string name)
    {
        var parts = name.Split('.');
        var type = parts.Length == 1 ? typeof(PluginProtocol) : typeof(PluginProtocol).GetNestedType(parts[0])!;
        var value = Convert.ToInt64(type.GetField(parts[^1])!.GetValue(null), CultureInfo.InvariantCulture);
        Assert.That(value, Is.EqualTo(_c[name]), $"{name} = {CExpression(name)}");
    }

    /// <summary>The C expression for a constant: an offsetof for a nested class's field, else the NTP_ macro or enum.</summary>
    private static string CExpression(string name)
    {
        var parts = name.Split('.');
        if (parts.Length == 1)
        {
            return parts[0] switch
            {
                "RecordSize" => "sizeof(struct ntp_record)",
                _ => "NTP_" + Snake(parts[0]).ToUpperInvariant(),
            };
        }

        var (type, field) = (parts[0], parts[1]);
        return (type, field) switch
        {
            ("Plan", "Size") => "sizeof(struct ntp_plan)",
            ("RamSegment", "Size") => "sizeof(struct ntp_ram_segment)",
            ("Plan", "PathSize") => "sizeof(struct ntp_path)",
            ("Plan", "PointSize") => "sizeof(struct ntp_point)",
            ("Plan", _) when field.StartsWith("Path", StringComparison.Ordinal) => $"offsetof(struct ntp_path, {Snake(field[4..])})",
            ("Plan", _) when field.StartsWith("Point", StringComparison.Ordinal) && field != "Points" && field != "PointCount" => $"offsetof(struct ntp_point, {Snake(field[5..])})",
            _ => $"offsetof({s_cStruct[type]}, {Snake(field)})",
        };
    }

    private static string Snake(string pascal)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < pascal.Length; i++)
        {
            if (char.IsUpper(pascal[i]) && i > 0)
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(pascal[i]));
        }

        return builder.ToString();
    }
}
