package dev.tapwire.network.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs each test — with its {@code @BeforeEach} and {@code @AfterEach} methods — on fresh platform threads
 * inside one private network namespace made for that test, so root tests never touch the host's interfaces.
 *
 * <p>Where the host cannot make namespaces (not Linux, no {@code CAP_NET_ADMIN}) the test is disabled with
 * the reason — except under {@code CI=true} or {@code -Dtapwire.requirePrivilegedTests=true}, where it runs
 * and fails with that reason, so CI never passes by skipping.
 *
 * <pre>{@code
 * @IsolatedNetns
 * class MyBridgeTest {
 *     @Test
 *     void createsTaps() {
 *         NetworkNamespace.createBridge("br0");
 *         // ... everything here runs in the test's own namespace
 *     }
 * }
 * }</pre>
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@ExtendWith(IsolatedNetnsExtension.class)
public @interface IsolatedNetns {
}
