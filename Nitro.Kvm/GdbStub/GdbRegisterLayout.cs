using System.Globalization;
using System.Xml;

namespace Nitro.Kvm.GdbStub;

/// <summary>
/// Register numbers, names, sizes and offsets in the <c>g</c> packet, read from the stub's target
/// description (registers in document order, numbered from 0 unless <c>regnum</c> says otherwise).
/// </summary>
internal sealed class GdbRegisterLayout
{
    private readonly string[] _names;
    private readonly int[] _offsets;
    private readonly int[] _sizes;

    private GdbRegisterLayout(string[] names, int[] sizes)
    {
        _names = names;
        _sizes = sizes;
        _offsets = new int[sizes.Length];
        var offset = 0;
        for (var i = 0; i < sizes.Length; i++)
        {
            _offsets[i] = offset;
            offset += sizes[i];
        }

        TotalSize = offset;
        GeneralPurpose = new int[s_kvmRegsOrder.Length];
        for (var i = 0; i < s_kvmRegsOrder.Length; i++)
        {
            GeneralPurpose[i] = Array.IndexOf(names, s_kvmRegsOrder[i]);
        }

        Special = new int[s_specialOrder.Length];
        for (var i = 0; i < s_specialOrder.Length; i++)
        {
            Special[i] = Array.IndexOf(names, s_specialOrder[i]);
        }
    }

    // struct kvm_regs order (rsp before rbp, unlike the gdb numbering).
    private static readonly string[] s_kvmRegsOrder =
    [
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "eflags",
    ];

    private static readonly string[] s_specialOrder =
    [
        "cs", "ds", "es", "fs", "gs", "ss", "fs_base", "gs_base", "k_gs_base", "cr0", "cr2", "cr3", "cr4", "cr8", "efer",
    ];

    /// <summary>The <see cref="SpecialIndex"/> positions.</summary>
    public enum SpecialIndex
    {
        Cs, Ds, Es, Fs, Gs, Ss, FsBase, GsBase, KernelGsBase, Cr0, Cr2, Cr3, Cr4, Cr8, Efer,
    }

    /// <summary>Gets the register numbers of the 18 kvm_regs fields in kvm_regs order (−1 where the stub has none).</summary>
    public int[] GeneralPurpose { get; }

    /// <summary>Gets the register numbers of the special registers in <see cref="SpecialIndex"/> order (−1 where missing).</summary>
    public int[] Special { get; }

    /// <summary>Gets the x86-64 layout QEMU 7.2 uses (FACTS §2), for stubs without a usable target description.</summary>
    public static GdbRegisterLayout X86_64Fallback { get; } = new(
        [
            "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
            "rip", "eflags", "cs", "ss", "ds", "es", "fs", "gs",
            "fs_base", "gs_base", "k_gs_base", "cr0", "cr2", "cr3", "cr4", "cr8", "efer",
        ],
        [
            8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
            8, 4, 4, 4, 4, 4, 4, 4,
            8, 8, 8, 8, 8, 8, 8, 8, 8,
        ]);

    /// <summary>Gets the number of registers.</summary>
    public int Count => _sizes.Length;

    /// <summary>Gets the sum of all register sizes.</summary>
    public int TotalSize { get; }

    public string Name(int number) => _names[number];

    public int Offset(int number) => _offsets[number];

    public int Size(int number) => _sizes[number];

    /// <summary>Gets the number of the register called <paramref name="name"/>, or −1.</summary>
    public int Find(string name) => Array.IndexOf(_names, name);

    /// <summary>Builds the layout from feature documents (target.xml and the files it includes, in order).</summary>
    /// <exception cref="GdbStubException">A document is not XML or a register has no usable size.</exception>
    public static GdbRegisterLayout FromFeatures(IReadOnlyList<string> documents)
    {
        var names = new List<string>();
        var sizes = new List<int>();
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore, XmlResolver = null };
        foreach (var document in documents)
        {
            try
            {
                using var reader = XmlReader.Create(new StringReader(document), settings, CreateContext());
                while (reader.Read())
                {
                    if (reader.NodeType != XmlNodeType.Element || !string.Equals(reader.LocalName, "reg", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var name = reader.GetAttribute("name") ?? string.Empty;
                    if (!int.TryParse(reader.GetAttribute("bitsize"), NumberStyles.None, CultureInfo.InvariantCulture, out var bits) || bits <= 0 || bits % 8 != 0)
                    {
                        throw new GdbStubException($"Register '{name}' in the target description has no usable bitsize.");
                    }

                    var number = names.Count;
                    if (int.TryParse(reader.GetAttribute("regnum"), NumberStyles.None, CultureInfo.InvariantCulture, out var regnum))
                    {
                        number = regnum;
                    }

                    // Numbers only go up in practice; a gap is filled with zero-sized placeholders.
                    while (names.Count < number)
                    {
                        names.Add(string.Empty);
                        sizes.Add(0);
                    }

                    if (number < names.Count)
                    {
                        names[number] = name;
                        sizes[number] = bits / 8;
                    }
                    else
                    {
                        names.Add(name);
                        sizes.Add(bits / 8);
                    }
                }
            }
            catch (XmlException ex)
            {
                throw new GdbStubException($"The stub's target description is not XML: {ex.Message}", ex);
            }
        }

        return new GdbRegisterLayout([.. names], [.. sizes]);
    }

    // QEMU writes <xi:include> without declaring the prefix; declare it up front.
    private static XmlParserContext CreateContext()
    {
        var names = new XmlNamespaceManager(new NameTable());
        names.AddNamespace("xi", "http://www.w3.org/2001/XInclude");
        return new XmlParserContext(null, names, null, XmlSpace.None);
    }

    /// <summary>Gets the <c>href</c> of every <c>xi:include</c> element of a feature document.</summary>
    public static List<string> Includes(string document)
    {
        var result = new List<string>();
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore, XmlResolver = null };
        try
        {
            using var reader = XmlReader.Create(new StringReader(document), settings, CreateContext());
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Element && string.Equals(reader.LocalName, "include", StringComparison.Ordinal) && reader.GetAttribute("href") is { Length: > 0 } href)
                {
                    result.Add(href);
                }
            }
        }
        catch (XmlException ex)
        {
            throw new GdbStubException($"The stub's target description is not XML: {ex.Message}", ex);
        }

        return result;
    }
}
