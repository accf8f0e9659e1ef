'use strict'
// The store the vendored suites use, set by the test file that runs them (test/suite.*.test.ts).
let factory
module.exports = {
  use (makeStore) { factory = makeStore },
  newStore () {
    if (!factory) throw new Error('no store factory: run the suite through its test/suite.*.test.ts file')
    return factory()
  }
}
