using Gfs.Client.Protocol;
using Gfs.Storage;

namespace Gfs.Node.Chunkserver;

/// <summary>Maps the chunk store's typed errors to wire error codes.</summary>
internal static class StoreErrors
{
    public static GfsException ToGfs(ChunkStoreException e) => new(Code(e.Error), e.Message, e);

    public static ErrorCode Code(ChunkStoreError error) => error switch
    {
        ChunkStoreError.NotFound => ErrorCode.NotFound,
        ChunkStoreError.AlreadyExists => ErrorCode.AlreadyExists,
        ChunkStoreError.InvalidArgument or ChunkStoreError.OutOfRange => ErrorCode.InvalidArgument,
        ChunkStoreError.StaleVersion => ErrorCode.StaleVersion,
        ChunkStoreError.ChecksumMismatch => ErrorCode.ChecksumMismatch,
        ChunkStoreError.NoSpace => ErrorCode.NoSpace,
        ChunkStoreError.DiskFailed => ErrorCode.DiskFailed,
        ChunkStoreError.Closed => ErrorCode.Unavailable,
        _ => ErrorCode.Internal,
    };

    /// <summary>Runs a store call and rethrows its failure as a typed wire error.</summary>
    public static async ValueTask<T> Run<T>(Func<ValueTask<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (ChunkStoreException e)
        {
            throw ToGfs(e);
        }
    }

    /// <summary>Runs a store call and rethrows its failure as a typed wire error.</summary>
    public static async ValueTask Run(Func<ValueTask> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (ChunkStoreException e)
        {
            throw ToGfs(e);
        }
    }
}
