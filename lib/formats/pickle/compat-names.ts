// Python 2 names that Python 3 maps when it reads a pickle (Lib/_compat_pickle.py, IMPORT_MAPPING and
// NAME_MAPPING, tkinter and dbm entries left out). Python 3 itself writes these names under protocols 0-2
// (e.g. subprocess.Popen as commands.Popen), so the reader maps them back before anything looks a global up.

const MODULES: Record<string, string> = {
  __builtin__: 'builtins', copy_reg: 'copyreg', Queue: 'queue', SocketServer: 'socketserver',
  ConfigParser: 'configparser', repr: 'reprlib', markupbase: '_markupbase', _winreg: 'winreg', thread: '_thread',
  dummy_thread: '_dummy_thread', xmlrpclib: 'xmlrpc.client', SimpleXMLRPCServer: 'xmlrpc.server',
  httplib: 'http.client', htmlentitydefs: 'html.entities', HTMLParser: 'html.parser', Cookie: 'http.cookies',
  cookielib: 'http.cookiejar', BaseHTTPServer: 'http.server', 'test.test_support': 'test.support',
  commands: 'subprocess', urlparse: 'urllib.parse', robotparser: 'urllib.robotparser', urllib2: 'urllib.request',
  _abcoll: 'collections.abc', cPickle: 'pickle', _elementtree: 'xml.etree.ElementTree',
  DocXMLRPCServer: 'xmlrpc.server', SimpleHTTPServer: 'http.server', CGIHTTPServer: 'http.server',
  UserDict: 'collections', UserList: 'collections', UserString: 'collections', StringIO: 'io', cStringIO: 'io',
  exceptions: 'builtins',
};

const NAMES: Record<string, [string, string]> = {
  '__builtin__.xrange': ['builtins', 'range'], '__builtin__.reduce': ['functools', 'reduce'],
  '__builtin__.intern': ['sys', 'intern'], '__builtin__.unichr': ['builtins', 'chr'],
  '__builtin__.unicode': ['builtins', 'str'], '__builtin__.long': ['builtins', 'int'],
  '__builtin__.basestring': ['builtins', 'str'], 'itertools.izip': ['builtins', 'zip'],
  'itertools.imap': ['builtins', 'map'], 'itertools.ifilter': ['builtins', 'filter'],
  'itertools.ifilterfalse': ['itertools', 'filterfalse'], 'itertools.izip_longest': ['itertools', 'zip_longest'],
  'UserDict.IterableUserDict': ['collections', 'UserDict'], 'UserDict.UserDict': ['collections', 'UserDict'],
  'UserList.UserList': ['collections', 'UserList'], 'UserString.UserString': ['collections', 'UserString'],
  '_socket.fromfd': ['socket', 'fromfd'], '_multiprocessing.Connection': ['multiprocessing.connection', 'Connection'],
};

/** The Python 3 module and name for a global as a pickle names it. */
export function python3Name(module: string, name: string): [string, string] {
  // Own properties only: a module named `constructor` or `__proto__` is a name like any other.
  const renamed = Object.hasOwn(NAMES, `${module}.${name}`) ? NAMES[`${module}.${name}`] : undefined;
  return renamed ?? [Object.hasOwn(MODULES, module) ? MODULES[module] : module, name];
}
