package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

class NetworkNamesTest {

    @ParameterizedTest
    @ValueSource(strings = {"a", "dev", "team-1", "0", "a-b-c",
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"})
    void acceptsDnsLabels(String name) {
        assertThat(NetworkNames.isValid(name)).isTrue();
    }

    @ParameterizedTest
    @NullAndEmptySource
    @ValueSource(strings = {"-a", "a-", "A", "dev_1", "dev.1", "dev 1", "dév", "a/b",
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd"})
    void rejectsEverythingElse(String name) {
        assertThat(NetworkNames.isValid(name)).isFalse();
    }
}
