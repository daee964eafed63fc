package dev.tapwire.network.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Injects a fresh file registry on a temporary state directory into a test parameter of type
 * {@link dev.tapwire.network.NetworkRegistry} or {@link dev.tapwire.network.registry.FileNetworkRegistry}.
 * The directory is deleted after a passing test and kept — its path published as a report entry and
 * logged to stderr — after a failing one, for evidence.
 *
 * <pre>{@code
 * @Test
 * void joinsSurviveRestart(@TemporaryRegistry NetworkRegistry registry) {
 *     registry.create("dev");
 *     assertThat(registry.join("dev", "w1")).hasToString("10.44.1.2");
 * }
 * }</pre>
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.PARAMETER)
@ExtendWith(TemporaryRegistryExtension.class)
public @interface TemporaryRegistry {
}
