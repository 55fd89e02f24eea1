// The web chat protocol tests (tests/blackbox/chat.test.mjs) once more on
// PostgreSQL, through the cluster scripts/with-postgres starts: the chat's
// SQL (sequence numbers, the resend check, transfers, the interactions
// search) and kill -9 durability on the second back end.
process.env.HL_CHAT_ON_PG = '1';
if (process.env.HL_TEST_PG_URL) await import('../blackbox/chat.test.mjs');
else {
  const { test } = await import('node:test');
  test('chat on PostgreSQL', { skip: 'HL_TEST_PG_URL not set (run through scripts/with-postgres)' }, () => {});
}
