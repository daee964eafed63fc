package dev.tapwire.network.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Injects, into a test of an {@link IsolatedNetns} class, a fresh temporary state directory to realize named
 * networks under — a {@code Path} field or a parameter of a test or lifecycle method; one directory per test,
 * shared by every field and parameter of that test.
 *
 * <p>After the test the extension stops every process still running in the test's namespace (a dnsmasq or a QEMU
 * that a failing test did not stop would keep the namespace and its devices alive), then deletes the directory
 * and the runtime directory tapwire keeps dnsmasq's data in for it ({@code /run/tapwire/<id>}, found by its
 * {@code state-dir} file). After a failing test both directories are kept, their paths published as a report
 * entry and printed on stderr, for evidence (dnsmasq's log is in the runtime directory).
 *
 * <pre>{@code
 * @IsolatedNetns
 * class MyRealizationTest {
 *     @StateDir
 *     Path state;
 *
 *     @Test
 *     void membersResolve(@TemporaryRegistry NetworkRegistry registry) {
 *         registry.create("team");
 *         new NetworkRealizer(state, registry).realize("team", false);
 *     }
 * }
 * }</pre>
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.FIELD, ElementType.PARAMETER})
public @interface StateDir {
}
