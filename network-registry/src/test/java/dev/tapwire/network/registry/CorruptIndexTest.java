package dev.tapwire.network.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.RegistryCorruptedException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

class CorruptIndexTest {

    @TempDir
    Path state;

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "truncated       | {\"networks\": [{\"name\": \"a\",                                  | line 1",
        "not json        | networks = []                                                    | line 1",
        "empty           | ''                                                               | empty",
        "json null       | null                                                             | null",
        "wrong type      | {\"networks\": {\"a\": 1}}                                       | line 1",
        "bad subnet      | {\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/33\", \"gateway\": \"10.44.1.1\"}]} | /33",
        "bad name        | {\"networks\": [{\"name\": \"A B\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\"}]} | invalid network name",
        "trailing junk   | {\"networks\": []} x                                             | line 1",
        "bad timestamp   | {\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\", \"created_at\": \"noon\"}]} | created_at"})
    void everyOperationFailsClosedAndLeavesTheFileUntouched(String label, String content, String detail)
            throws Exception {
        Path index = FileNetworkRegistry.indexPath(state);
        Files.createDirectories(index.getParent());
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        Files.write(index, bytes);
        FileNetworkRegistry registry = FileNetworkRegistry.open(state);

        ThrowingCallable[] operations = {
            registry::list, registry::readIndex, () -> registry.create("fresh"), () -> registry.join("a", "w"),
            () -> registry.leave("a", "w"), () -> registry.leaveAll("w"), () -> registry.remove("a", true),
            () -> registry.writeIndex(NetworkIndex.EMPTY)};
        for (ThrowingCallable operation : operations) {
            assertThatThrownBy(operation).isInstanceOf(RegistryCorruptedException.class)
                    .hasMessageContaining(index.toString())
                    .hasMessageContaining(detail)
                    .hasMessageContaining("left untouched");
        }
        assertThat(Files.readAllBytes(index)).isEqualTo(bytes);
    }
}
