using System.Security.Cryptography;
using Gfs.Client;
using Gfs.Testing;

namespace Gfs.Node.Tests.Chunkserver;

public sealed class EndToEndTests
{
    [Fact]
    public async Task RealMastersAndChunkservers_WriteReadAndAppend_ThroughGfsClient()
    {
        await using var cluster = await GfsCluster.StartAsync(chunkserverCount: 3);
        await using var client = new GfsClient(cluster.ClientOptions);
        var data = ChunkserverTestCluster.Random((20 << 20) + 777, 42);
        try
        {
            await using (var write = await client.CreateAsync("/e2e.bin"))
            {
                await write.WriteAsync(data);
            }

            await using (var read = await client.OpenReadAsync("/e2e.bin"))
            {
                var copy = new MemoryStream();
                await read.CopyToAsync(copy);
                Assert.Equal(SHA256.HashData(data), SHA256.HashData(copy.ToArray()));
            }

            await using (var log = await client.CreateAsync("/e2e.log"))
            {
            }

            var first = await client.AppendRecordAsync("/e2e.log", data.AsMemory(0, 1000));
            var second = await client.AppendRecordAsync("/e2e.log", data.AsMemory(1000, 1000));
            Assert.NotEqual(first, second);
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{e}\ncluster output:\n{cluster.Output()}");
        }
    }
}
