// Runs dynalite like its cli.js does, except that a client hanging up
// mid-request does not end the process. dynalite's request handler rethrows
// the request's "aborted" error; such a request never reached the store, so
// dropping it is what a real DynamoDB endpoint does. Any other uncaught error
// still ends the process, loudly.
'use strict'

const [indexPath, optionsJSON] = process.argv.slice(-2)
const options = JSON.parse(optionsJSON)

process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    console.error('dynalite: a client hung up mid-request; the request was dropped')
    return
  }
  console.error(err)
  process.exit(1)
})

// Our stdin is a pipe whose only writer is the Go process that started us: EOF means it
// is gone, however it ended, and dynalite must not outlive it.
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
process.stdin.resume()

const server = require(indexPath)(options)
server.listen(options.port, options.host, () => {
  const { port } = server.address()
  // File descriptor 3 is how the Go side learns the port node picked.
  require('fs').writeSync(3, `${port}\n`)
  console.error(`dynalite listening at http://${options.host}:${port}`)
})
