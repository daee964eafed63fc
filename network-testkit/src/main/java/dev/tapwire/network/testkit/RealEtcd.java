package dev.tapwire.network.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Starts real etcd servers ({@link EtcdServers}) once for a test class — before its {@code @BeforeAll} methods,
 * shared by its {@code @Nested} classes — and stops them after it; any parameter of type {@link EtcdServers}
 * (of a constructor, a lifecycle or a test method) receives them. Where etcd is not installed the class is
 * skipped with the package to install, except under {@code CI=true}, where that fails. A subclass may
 * re-annotate to change the size.
 *
 * <pre>{@code
 * @RealEtcd(members = 3)
 * class FleetTest {
 *     @Test
 *     void survivesAMemberCrash(EtcdServers etcd) throws Exception {
 *         EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).build();
 *         etcd.members().get(0).kill();
 *     }
 * }
 * }</pre>
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@ExtendWith(RealEtcdExtension.class)
public @interface RealEtcd {

    /**
     * The number of members: 1, or 3 for a cluster that keeps quorum when one fails.
     *
     * @return the cluster size
     */
    int members() default 1;
}
