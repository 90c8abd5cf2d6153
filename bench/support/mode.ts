// `npm run bench -- --quick`: a few seconds a case, so CI notices a benchmark that stops working.
// The figures of a quick run are not the ones to quote.
export const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
