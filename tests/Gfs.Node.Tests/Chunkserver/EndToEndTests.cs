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

            // Each record reads back at the offset its append returned, byte for byte.
            await using (var read = await client.OpenReadAsync("/e2e.log"))
            {
                Assert.True(read.Length >= Math.Max(first, second) + 1000, $"the log holds {read.Length} bytes; records at {first} and {second}");
                foreach (var (offset, from) in new[] { (first, 0), (second, 1000) })
                {
                    var back = new byte[1000];
                    read.Seek(offset, SeekOrigin.Begin);
                    await read.ReadExactlyAsync(back);
                    Assert.Equal(data.AsSpan(from, 1000).ToArray(), back);
                }
            }
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{e}\ncluster output:\n{cluster.Output()}");
        }
    }
}
