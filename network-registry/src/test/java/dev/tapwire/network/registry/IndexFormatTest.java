package dev.tapwire.network.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Byte compatibility with the Go reference's {@code json.MarshalIndent(index, "", "  ")} + newline. */
class IndexFormatTest {

    @TempDir
    Path state;

    private static byte[] golden() throws Exception {
        try (InputStream in = IndexFormatTest.class.getResourceAsStream("/golden/reference-index.json")) {
            return in.readAllBytes();
        }
    }

    @Test
    void readingThenWritingAReferenceFileGivesIdenticalBytes() throws Exception {
        Path index = FileNetworkRegistry.indexPath(state);
        Files.createDirectories(index.getParent());
        Files.write(index, golden());
        FileNetworkRegistry registry = FileNetworkRegistry.open(state);

        NetworkIndex read = registry.readIndex();
        assertThat(read.networks()).extracting(NetworkRecord::name).containsExactly("backend", "empty", "frontend");
        assertThat(read.find("backend").orElseThrow().member("db <primary> & \"replica\""))
                .map(m -> m.ip()).contains(Ipv4Address.parse("10.44.2.4"));

        registry.writeIndex(read);
        assertThat(Files.readAllBytes(index)).isEqualTo(golden());
        assertThat(IndexCodec.format(read)).isEqualTo(golden());
    }

    @Test
    void aChangeKeepsTheRestOfTheFileByteForByte() throws Exception {
        Path index = FileNetworkRegistry.indexPath(state);
        Files.createDirectories(index.getParent());
        Files.write(index, golden());
        FileNetworkRegistry registry = FileNetworkRegistry.open(state);

        registry.join("frontend", "web-2");
        registry.leave("frontend", "web-2");

        assertThat(Files.readAllBytes(index)).isEqualTo(golden());
    }

    @Test
    void nullNetworksAndUnknownFieldsAreRead() throws Exception {
        Path index = FileNetworkRegistry.indexPath(state);
        Files.createDirectories(index.getParent());
        Files.writeString(index, "{\"networks\": null, \"version\": 3}\n");
        assertThat(FileNetworkRegistry.open(state).list()).isEmpty();

        Files.writeString(index, "{\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/24\", \"gateway\": "
                + "\"10.44.1.1\", \"mtu\": 1400, \"members\": [{\"workspace\": \"w\", \"ip\": \"10.44.1.2\", "
                + "\"hostname\": \"w.local\"}]}], \"future\": {\"x\": [1, 2]}}");
        assertThat(FileNetworkRegistry.open(state).get("a").members()).hasSize(1);
    }

    @Test
    void anEmptyIndexIsWrittenAsAnEmptyList() {
        assertThat(new String(IndexCodec.format(NetworkIndex.EMPTY), StandardCharsets.UTF_8))
                .isEqualTo("{\n  \"networks\": []\n}\n");
    }

    @Test
    void stringsAreEscapedAsGoEscapesThem() {
        StringBuilder out = new StringBuilder();
        IndexCodec.string(out, "a\"b\\c<d>e&f\u2028g\u2029h\u0001i\tj\nk\u00e9l\uD83D\uDE00m");
        assertThat(out.toString()).isEqualTo(
                "\"a\\\"b\\\\c\\u003cd\\u003ee\\u0026f\\u2028g\\u2029h\\u0001i\\tj\\nk\u00e9l\uD83D\uDE00m\"");
    }
}
