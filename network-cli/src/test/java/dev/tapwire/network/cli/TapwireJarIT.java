package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/** The runnable jar the package phase made (run by failsafe in the verify phase): the command and nothing for tests. */
class TapwireJarIT {

    private static final Path JAR = Path.of("target/tapwire.jar");

    @Test
    void theCommandsJarHoldsNoTestLibraryButTheGuestItBoots() throws Exception {
        assertThat(JAR).as("built by the package phase").isRegularFile();
        try (JarFile jar = new JarFile(JAR.toFile())) {
            List<String> names = jar.stream().map(JarEntry::getName).toList();
            assertThat(names).as("test libraries in " + JAR)
                    .noneMatch(n -> n.startsWith("org/junit/") || n.startsWith("org/assertj/")
                            || n.startsWith("net/bytebuddy/") || n.startsWith("org/opentest4j/")
                            || n.startsWith("dev/tapwire/network/testkit/"));
            assertThat(names).contains("dev/tapwire/network/cli/Tapwire.class",
                    "dev/tapwire/network/guest/Guest.class", "dev/tapwire/network/guest/build-guest.sh");
        }
        assertThat(Files.size(JAR)).isPositive();
    }
}
