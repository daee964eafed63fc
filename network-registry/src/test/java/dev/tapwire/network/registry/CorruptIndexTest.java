package dev.tapwire.network.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.RegistryCorruptedException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.tapwire.network.NetworkRecord;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

class CorruptIndexTest {

    @TempDir
    Path state;

    /** Writes {@code content} as the state directory's index, as an operator or another program might. */
    private Path writeIndex(String content) throws IOException {
        Path index = FileNetworkRegistry.indexPath(state);
        Files.createDirectories(index.getParent());
        Files.writeString(index, content);
        return index;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "truncated       | {\"networks\": [{\"name\": \"a\",                                  | line 1",
        "not json        | networks = []                                                    | line 1",
        "empty           | ''                                                               | empty",
        "json null       | null                                                             | null",
        "wrong type      | {\"networks\": {\"a\": 1}}                                       | line 1",
        "bad subnet      | {\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/33\", \"gateway\": \"10.44.1.1\"}]} | networks[0].subnet",
        "bad name        | {\"networks\": [{\"name\": \"A B\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\"}]} | networks[0] is not a valid network",
        "trailing junk   | {\"networks\": []} x                                             | line 1",
        "bad timestamp   | {\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\", \"created_at\": \"noon\"}]} | created_at",
        "duplicate key   | {\"networks\": [], \"networks\": []} | a key appears twice",
        "number as name  | {\"networks\": [{\"name\": 5, \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\"}]} | networks[0].name has the wrong type",
        "boolean subnet  | {\"networks\": [{\"name\": \"a\", \"subnet\": true, \"gateway\": \"10.44.1.1\"}]} | networks[0].subnet has the wrong type",
        "number as ip    | {\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\", \"members\": [{\"workspace\": \"w\", \"ip\": 7}]}]} | networks[0].members[0].ip",
        "member outside  | {\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\", \"members\": [{\"workspace\": \"w\", \"ip\": \"10.44.2.5\"}]}]} | outside the subnet",
        "gateway member  | {\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\", \"members\": [{\"workspace\": \"w\", \"ip\": \"10.44.1.1\"}]}]} | network, gateway or broadcast",
        "broadcast member | {\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\", \"members\": [{\"workspace\": \"w\", \"ip\": \"10.44.1.255\"}]}]} | network, gateway or broadcast",
        "address twice   | {\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\", \"members\": [{\"workspace\": \"v\", \"ip\": \"10.44.1.2\"}, {\"workspace\": \"w\", \"ip\": \"10.44.1.2\"}]}]} | held by more than one member",
        "workspace twice | {\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\", \"members\": [{\"workspace\": \"w\", \"ip\": \"10.44.1.2\"}, {\"workspace\": \"w\", \"ip\": \"10.44.1.3\"}]}]} | lists workspace w twice",
        "network twice   | {\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\"}, {\"name\": \"a\", \"subnet\": \"10.45.1.0/24\", \"gateway\": \"10.45.1.1\"}]} | lists network a twice"})
    void everyOperationFailsClosedAndLeavesTheFileUntouched(String label, String content, String detail)
            throws Exception {
        Path index = writeIndex(content);
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        FileNetworkRegistry registry = FileNetworkRegistry.open(state);

        ThrowingCallable[] operations = {
            registry::list, registry::readIndex, () -> registry.create("fresh"), () -> registry.join("a", "w"),
            () -> registry.leave("a", "w"), () -> registry.leaveAll("w"), () -> registry.remove("a", true),
            () -> registry.writeIndex(NetworkIndex.EMPTY)};
        for (ThrowingCallable operation : operations) {
            assertThatThrownBy(operation).isInstanceOf(RegistryCorruptedException.class)
                    .hasMessageContaining(index.toString())
                    .hasMessageContaining(detail)
                    .hasMessageContaining("left untouched")
                    .hasMessageNotContaining("Source:").hasMessageNotContaining("REDACTED");
        }
        assertThat(Files.readAllBytes(index)).isEqualTo(bytes);
    }

    @Test
    void anErrorNeverQuotesTheFilesContent() throws Exception {
        Path index = writeIndex("");
        String[] shapes = {"Hunter2 SECRET", "{\"networks\": Hunter2 SECRET}", "{\"Hunter2 SECRET\": 1, \"networks\": 5}",
            "{\"networks\": [{\"name\": \"Hunter2 SECRET\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\"}]}",
            "{\"networks\": [{\"name\": \"a\", \"subnet\": \"Hunter2 SECRET\", \"gateway\": \"10.44.1.1\"}]}"};
        for (String shape : shapes) {
            Files.writeString(index, shape);
            assertThatThrownBy(() -> FileNetworkRegistry.open(state).list()).as(shape)
                    .isInstanceOf(RegistryCorruptedException.class)
                    .hasMessageNotContaining("Hunter2")
                    .satisfies(e -> assertThat(e.getCause()).as("a parser exception would quote the file").isNull());
        }
    }

    @Test
    void listIsSortedByNameEvenForAnUnsortedFile() throws Exception {
        Path index = writeIndex("{\"networks\": [{\"name\": \"zeta\", \"subnet\": \"10.44.2.0/24\", \"gateway\": "
                + "\"10.44.2.1\"}, {\"name\": \"alpha\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\"}]}");
        FileNetworkRegistry registry = FileNetworkRegistry.open(state);
        assertThat(registry.list()).extracting(NetworkRecord::name).containsExactly("alpha", "zeta");
        registry.join("zeta", "w"); // under the lock, too
        assertThat(registry.list()).extracting(NetworkRecord::name).containsExactly("alpha", "zeta");
    }

    @Test
    void overlappingSubnetsAsTheGoReferenceWritesThemLoadWithAVisibleWarning() throws Exception {
        Path index = writeIndex("{\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/25\", \"gateway\": "
                + "\"10.44.1.1\"}, {\"name\": \"b\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\"}]}");
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            assertThat(FileNetworkRegistry.open(state).list()).hasSize(2);
        } finally {
            System.setErr(original);
        }
        assertThat(captured.toString(StandardCharsets.UTF_8)).contains("WARN")
                .contains("network b (10.44.1.0/24) overlaps network a (10.44.1.0/25)");
    }
}
