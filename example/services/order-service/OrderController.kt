// Example only. The order service's checkout API (checkout model: order-service).
package shop.orders

class OrderController(private val orders: OrderRepository, private val payments: PaymentPublisher) {
    fun place(customerId: String, basket: Basket): Order {
        val order = orders.create(customerId, basket)
        payments.publish(PaymentRequested(order.id, order.total))
        return order
    }

    fun get(customerId: String, orderId: Long): Order? =
        orders.find(orderId)?.takeIf { it.customerId == customerId } // M-CHK-04
}
