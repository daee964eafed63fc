package dev.tapwire.network.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Fails a test that leaves behind what it created: TAPs on the fake hosts of {@link InMemoryNetworkProvider}s
 * made during the test, and members of registries injected with {@link TemporaryRegistry}. Use it to
 * prove that a manager cleans up after its VMs.
 *
 * <pre>{@code
 * @LeakCheck
 * class MyManagerTest {
 *     @Test
 *     void stoppingAVmReleasesItsNetwork(@TemporaryRegistry NetworkRegistry registry) { ... }
 * }
 * }</pre>
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@ExtendWith(LeakCheckExtension.class)
public @interface LeakCheck {
}
