export default {
  id: 'greet',
  handler: (router, context) => {
    router.get('/', (req, res) => res.json({ data: { hello: req.accountability ? (req.accountability.user ? 'user' : 'public') : 'nobody' } }));
    router.get('/:name', (req, res) => res.json({ data: { hello: req.params.name, shout: req.query.shout === 'true' } }));
    router.post('/echo', (req, res) => res.json({ data: req.body }));
  },
};
