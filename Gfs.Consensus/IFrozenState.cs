namespace Gfs.Consensus;

/// <summary>A captured state that can be written as a snapshot from any thread.</summary>
public interface IFrozenState
{
    /// <summary>Streams the snapshot into <paramref name="destination"/>.</summary>
    void WriteTo(Stream destination);
}
