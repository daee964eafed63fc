package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DeviceOperationExceptionTest {

    @Test
    void theMessageSaysWhatWasCalledOnWhatAndWhy() {
        DeviceOperationException e = new DeviceOperationException("TUNSETIFF", "bt1a2b3c4d-0", 16, "EBUSY",
                "Device or resource busy");
        assertThat(e).hasMessage("TUNSETIFF(bt1a2b3c4d-0) failed: EBUSY (Device or resource busy)");
        assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY);
        assertThat(e.errno()).isEqualTo(16);
        assertThat(e.operation()).isEqualTo("TUNSETIFF");
        assertThat(e.device()).isEqualTo("bt1a2b3c4d-0");
    }

    @Test
    void aCallWithoutADeviceHasNoEmptyParentheses() {
        assertThat(new DeviceOperationException("unshare(CLONE_NEWNET)", null, 1, "EPERM", "Operation not permitted"))
                .hasMessageStartingWith("unshare(CLONE_NEWNET) failed: EPERM (Operation not permitted); this needs CAP_NET_ADMIN");
    }

    @Test
    void errnosMapToDistinctReasons() {
        assertThat(DeviceOperationException.Reason.ofErrno(1)).isEqualTo(DeviceOperationException.Reason.PERMISSION_DENIED);
        assertThat(DeviceOperationException.Reason.ofErrno(16)).isEqualTo(DeviceOperationException.Reason.BUSY);
        assertThat(DeviceOperationException.Reason.ofErrno(19)).isEqualTo(DeviceOperationException.Reason.NO_SUCH_DEVICE);
        assertThat(DeviceOperationException.Reason.ofErrno(17)).isEqualTo(DeviceOperationException.Reason.ALREADY_EXISTS);
        assertThat(DeviceOperationException.Reason.ofErrno(22)).isEqualTo(DeviceOperationException.Reason.OTHER);
    }
}
