using System.Globalization;

namespace Nitro.Backends.Windows.Images;

/// <summary>
/// The PDB a kernel image was linked with, as its CodeView (RSDS) debug record names it: the
/// key of symbol servers and of Volatility 3's symbol directories
/// (<c>windows/ntkrnlmp.pdb/&lt;GUID&gt;-&lt;age&gt;.json.xz</c>).
/// </summary>
/// <param name="DatabaseName">The PDB file name without directories (<c>ntkrnlmp.pdb</c>).</param>
/// <param name="Guid">The PDB GUID.</param>
/// <param name="Age">The PDB age.</param>
public sealed record PdbIdentity(string DatabaseName, Guid Guid, int Age)
{
    /// <summary>Gets the GUID as symbol servers write it: 32 upper-case hex digits.</summary>
    public string GuidText => Guid.ToString("N").ToUpperInvariant();

    /// <summary>Gets the symbol table's file stem in Volatility 3's layout (<c>GUID-age</c>).</summary>
    public string IsfStem => string.Create(CultureInfo.InvariantCulture, $"{GuidText}-{Age}");

    /// <inheritdoc />
    public override string ToString() => $"{DatabaseName} {IsfStem}";
}
