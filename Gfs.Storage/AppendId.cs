namespace Gfs.Storage;

/// <summary>
/// The identity of a record append: the appending client's id and its sequence number for the record. An append
/// that names one is remembered with the chunk (durably, in the same log record as the append), so a retry of
/// the same record can be told apart from a new one after a restart (<see cref="IChunkStore.FindAppend"/>).
/// </summary>
/// <param name="ClientId">The appending client.</param>
/// <param name="Sequence">The client's number for this record; a retry reuses it.</param>
public readonly record struct AppendId(long ClientId, long Sequence);
