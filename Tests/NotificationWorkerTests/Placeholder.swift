import Testing

@Test func notificationWorkerTestsBuild() {}
