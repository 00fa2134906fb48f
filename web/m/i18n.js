// i18n.js - every string the member pages show, in zh-CN and en. Chinese
// unless the member switched (remembered in localStorage) or the link says
// ?lang=en. t('key', {n: 3}) fills {n}.
export const dict = {
  'app.title': { zh: '会员中心', en: 'Member centre' },
  'nav.home': { zh: '首页', en: 'Home' },
  'nav.rewards': { zh: '兑换', en: 'Rewards' },
  'nav.specials': { zh: '特惠', en: 'Specials' },
  'nav.auctions': { zh: '竞拍', en: 'Auctions' },
  'nav.lang': { zh: 'EN', en: '中文' },
  'nav.back': { zh: '返回', en: 'Back' },
  'nav.logout': { zh: '退出登录', en: 'Sign out' },

  'login.title': { zh: '手机号登录', en: 'Sign in with your phone' },
  'login.hint': { zh: '未注册的手机号将自动成为会员', en: 'New numbers become members automatically' },
  'login.phone': { zh: '手机号', en: 'Phone number' },
  'login.code': { zh: '验证码', en: 'Code' },
  'login.send': { zh: '获取验证码', en: 'Get code' },
  'login.resend': { zh: '{n} 秒后重发', en: 'Resend in {n}s' },
  'login.sent': { zh: '验证码已发送，5 分钟内有效', en: 'Code sent; it is valid for 5 minutes' },
  'login.submit': { zh: '登录', en: 'Sign in' },
  'login.needPhone': { zh: '请输入手机号', en: 'Enter your phone number' },
  'login.needCode': { zh: '请输入 6 位验证码', en: 'Enter the 6-digit code' },
  'login.expired': { zh: '登录已过期，请重新登录', en: 'Your session ended; please sign in again' },

  'home.hello': { zh: '你好，{name}', en: 'Hello, {name}' },
  'home.member': { zh: '会员', en: 'member' },
  'home.balance': { zh: '积分余额', en: 'Points balance' },
  'home.available': { zh: '可用', en: 'Available' },
  'home.pending': { zh: '冻结中', en: 'On hold' },
  'home.debt': { zh: '透支', en: 'Owed' },
  'home.noTier': { zh: '普通会员', en: 'Member' },
  'home.expiring': { zh: '即将过期', en: 'Expiring soon' },
  'home.expiringTotal': { zh: '30 天内将有 {n} 积分过期', en: '{n} points expire within 30 days' },
  'home.expiringNone': { zh: '30 天内没有即将过期的积分', en: 'No points expire in the next 30 days' },
  'home.expiresOn': { zh: '{n} 积分 · {date} 过期', en: '{n} points · expire {date}' },
  'home.more': { zh: '全部服务', en: 'Everything' },

  'tile.history': { zh: '积分明细', en: 'History' },
  'tile.rewards': { zh: '积分兑换', en: 'Rewards' },
  'tile.specials': { zh: '月度特惠', en: 'Specials' },
  'tile.auctions': { zh: '积分竞拍', en: 'Auctions' },
  'tile.groupbuys': { zh: '积分团购', en: 'Group buys' },
  'tile.trials': { zh: '积分试用', en: 'Trials' },
  'tile.instalments': { zh: '积分分期', en: 'Instalments' },
  'tile.orders': { zh: '我的订单', en: 'My orders' },
  'tile.referral': { zh: '推荐好友', en: 'Refer a friend' },

  'common.points': { zh: '{n} 积分', en: '{n} pts' },
  'common.loading': { zh: '加载中…', en: 'Loading…' },
  'common.empty': { zh: '暂无内容', en: 'Nothing here yet' },
  'common.more': { zh: '加载更多', en: 'Load more' },
  'common.endsIn': { zh: '剩余 {t}', en: '{t} left' },
  'common.startsIn': { zh: '{t} 后开始', en: 'Starts in {t}' },
  'common.ended': { zh: '已结束', en: 'Ended' },
  'common.confirm': { zh: '确认{what}', en: 'Confirm: {what}' },
  'common.cancel': { zh: '取消', en: 'Cancel' },
  'common.copy': { zh: '复制链接', en: 'Copy link' },
  'common.copied': { zh: '已复制', en: 'Copied' },
  'common.copyManual': { zh: '请长按链接复制', en: 'Press and hold the link to copy it' },
  'common.error': { zh: '出错了：{msg}', en: 'Something went wrong: {msg}' },
  'common.notFound': { zh: '页面不存在', en: 'Page not found' },
  'time.d': { zh: '{n}天', en: '{n}d ' },
  'time.h': { zh: '{n}小时', en: '{n}h ' },
  'time.m': { zh: '{n}分', en: '{n}m ' },
  'time.s': { zh: '{n}秒', en: '{n}s' },

  'history.title': { zh: '积分明细', en: 'Points history' },
  'code.earn': { zh: '获得积分', en: 'Earned' },
  'code.redeem': { zh: '积分兑换', en: 'Redeemed' },
  'code.refund': { zh: '积分退回', en: 'Refunded' },
  'code.expire': { zh: '积分过期', en: 'Expired' },
  'code.adjust': { zh: '积分调整', en: 'Adjustment' },
  'code.hold': { zh: '积分冻结', en: 'Held' },
  'code.bid': { zh: '竞拍出价', en: 'Auction bid' },
  'code.other': { zh: '积分变动', en: 'Points' },
  'status.pending': { zh: '冻结中', en: 'on hold' },
  'status.voided': { zh: '已释放', en: 'released' },

  'rewards.title': { zh: '积分兑换', en: 'Rewards' },
  'rewards.redeem': { zh: '兑换', en: 'Redeem' },
  'rewards.option': { zh: '规格', en: 'Option' },
  'rewards.tierOnly': { zh: '会员等级不足', en: 'Not for your tier' },
  'rewards.special': { zh: '特惠', en: 'Special' },
  'rewards.stock': { zh: '库存 {n}', en: '{n} left' },
  'rewards.done': { zh: '兑换成功！订单号 {id}', en: 'Redeemed! Order {id}' },

  'specials.title': { zh: '月度特惠', en: 'Monthly specials' },
  'specials.was': { zh: '原价 {n}', en: 'was {n}' },
  'specials.remaining': { zh: '限量剩余 {n}', en: '{n} left' },
  'specials.perCustomer': { zh: '每人限 {n} 件', en: '{n} per member' },
  'specials.take': { zh: '立即兑换', en: 'Redeem now' },

  'auctions.title': { zh: '积分竞拍', en: 'Auctions' },
  'auctions.current': { zh: '当前出价', en: 'Current bid' },
  'auctions.start': { zh: '起拍价', en: 'Starting bid' },
  'auctions.noBids': { zh: '暂无出价', en: 'No bids yet' },
  'auctions.minNext': { zh: '最低出价 {n}', en: 'Minimum bid {n}' },
  'auctions.bids': { zh: '{n} 次出价', en: '{n} bids' },
  'auctions.bid': { zh: '出价', en: 'Bid' },
  'auctions.amount': { zh: '出价积分', en: 'Your bid in points' },
  'auctions.leading': { zh: '你目前领先（出价 {n}）', en: 'You are leading (bid {n})' },
  'auctions.outbid': { zh: '你的出价 {n} 已被超越', en: 'You have been outbid (your bid {n})' },
  'auctions.won': { zh: '恭喜，你已拍得！', en: 'You won!' },
  'auctions.lost': { zh: '未拍得，冻结积分已退回', en: 'Not won; your points were released' },
  'auctions.done': { zh: '出价成功，积分已冻结', en: 'Bid placed; the points are on hold' },
  'state.scheduled': { zh: '即将开始', en: 'Upcoming' },
  'state.open': { zh: '进行中', en: 'Open' },
  'state.closing': { zh: '结算中', en: 'Closing' },
  'state.closed': { zh: '已结束', en: 'Closed' },
  'state.drawing': { zh: '开奖中', en: 'Drawing' },
  'state.completed': { zh: '拼团成功', en: 'Complete' },
  'state.expired': { zh: '已过期', en: 'Expired' },

  'groupbuys.title': { zh: '积分团购', en: 'Group buys' },
  'groupbuys.deals': { zh: '正在拼团', en: 'Deals' },
  'groupbuys.mine': { zh: '我的拼团', en: 'My groups' },
  'groupbuys.perMember': { zh: '{n} 积分/人', en: '{n} pts each' },
  'groupbuys.size': { zh: '{n} 人成团', en: 'Groups of {n}' },
  'groupbuys.start': { zh: '发起拼团', en: 'Start a group' },
  'group.title': { zh: '拼团', en: 'Group buy' },
  'group.progress': { zh: '已有 {joined}/{size} 人参团', en: '{joined} of {size} joined' },
  'group.remaining': { zh: '还差 {n} 人', en: '{n} more needed' },
  'group.join': { zh: '参团', en: 'Join' },
  'group.joined': { zh: '你已参团，积分已冻结；成团后自动下单', en: 'You joined; your points are on hold until the group fills' },
  'group.initiator': { zh: '团长', en: 'Starter' },
  'group.share': { zh: '邀请好友参团', en: 'Invite friends' },
  'group.completed': { zh: '拼团成功，订单已生成', en: 'The group is complete: orders are placed' },
  'group.expired': { zh: '拼团已过期，冻结积分已退回', en: 'The group expired; held points were released' },
  'group.done': { zh: '参团成功！', en: 'You are in!' },

  'trials.title': { zh: '积分试用', en: 'Trials' },
  'trials.units': { zh: '{n} 份', en: '{n} units' },
  'trials.price': { zh: '申请冻结 {n} 积分', en: 'Holds {n} pts to apply' },
  'trials.free': { zh: '免费申请', en: 'Free to apply' },
  'trials.bonus': { zh: '评价奖励 {n} 积分', en: 'Review bonus {n} pts' },
  'trials.applicants': { zh: '{n} 人已申请', en: '{n} applied' },
  'trials.apply': { zh: '申请试用', en: 'Apply' },
  'trials.applied': { zh: '已申请，等待开奖', en: 'Applied; waiting for the draw' },
  'trials.won': { zh: '恭喜中选！请在 {date} 前提交评价', en: 'You were chosen! Review it by {date}' },
  'trials.lost': { zh: '未中选，冻结积分已退回', en: 'Not chosen; your points were released' },
  'trials.reviewed': { zh: '已评价，积分已返还', en: 'Reviewed; your points came back' },
  'trials.forfeited': { zh: '未按时评价', en: 'Review missed' },
  'trials.review': { zh: '提交评价', en: 'Submit review' },
  'trials.reviewText': { zh: '说说你的使用感受', en: 'How was it?' },
  'trials.rating': { zh: '评分', en: 'Rating' },
  'trials.done': { zh: '申请成功', en: 'Applied' },
  'trials.reviewDone': { zh: '评价成功，积分已返还', en: 'Thanks! Your points came back' },

  'instalments.title': { zh: '积分分期', en: 'Instalment plans' },
  'instalments.plan': { zh: '分 {n} 期', en: '{n} instalments' },
  'instalments.progress': { zh: '已还 {paid}/{n} 期，待还 {left} 积分', en: '{paid} of {n} paid, {left} pts to go' },
  'instalments.next': { zh: '下期 {date} 还 {n} 积分', en: 'Next: {n} pts on {date}' },
  'instalments.active': { zh: '还款中', en: 'Active' },
  'instalments.paid_off': { zh: '已还清', en: 'Paid off' },
  'instalments.delinquent': { zh: '已逾期', en: 'Overdue' },
  'instalments.cancelled': { zh: '已取消', en: 'Cancelled' },
  'referral.title': { zh: '推荐好友', en: 'Refer a friend' },
  'referral.code': { zh: '我的推荐码', en: 'My referral code' },
  'orders.title': { zh: '我的订单', en: 'My orders' },
  'orders.placed': { zh: '待发货', en: 'Placed' },
  'orders.shipped': { zh: '已发货', en: 'Shipped' },
  'orders.delivered': { zh: '已签收', en: 'Delivered' },
  'orders.cancelled': { zh: '已取消', en: 'Cancelled' },
  'orders.tracking': { zh: '{carrier} 单号 {no}', en: '{carrier} tracking {no}' },

  // the "reason" of a refusal (src/api/routes_member.c)
  'reason.insufficient_points': { zh: '积分不足', en: 'Not enough points' },
  'reason.out_of_stock': { zh: '库存不足', en: 'Out of stock' },
  'reason.limit_reached': { zh: '已达兑换上限', en: 'You reached the limit' },
  'reason.sold_out': { zh: '已抢光', en: 'Sold out' },
  'reason.not_open': { zh: '当前不在活动时间内', en: 'Not open right now' },
  'reason.not_eligible': { zh: '不符合参与条件', en: 'Not open to you' },
  'reason.already_joined': { zh: '你已经参加过了', en: 'You are already in' },
  'reason.group_closed': { zh: '该团已满员或已结束', en: 'This group is full or over' },
  'reason.bid_too_low': { zh: '出价过低', en: 'Bid too low' },
  'reason.wrong_code': { zh: '验证码错误或已失效', en: 'Wrong or expired code' },
  'reason.rate_limited': { zh: '发送太频繁，请 {n} 秒后再试', en: 'Too many requests: try again in {n}s' },
};

function initial() {
  const q = new URLSearchParams(location.search).get('lang');
  if (q === 'en' || q === 'zh') return q;
  try { return localStorage.getItem('hudong.m.lang') || 'zh'; } catch (e) { return 'zh'; }
}

let lang = initial();

export function t(key, vars) {
  const e = dict[key];
  let s = e ? (e[lang] || e.zh) : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
  return s;
}

export function getLang() { return lang; }

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'zh';
  try { localStorage.setItem('hudong.m.lang', lang); } catch (e) { /* private mode */ }
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}

// The name of something that has {zh, en} names.
export function named(n) {
  if (!n) return '';
  if (typeof n === 'string') return n;
  return (lang === 'en' ? n.en || n.zh : n.zh || n.en) || '';
}
